"""One ``quote()`` per output language: any string in, a literal of that language out.

The literal always reads back as exactly the input string, whatever it holds
(quotes, ``]]``, ``$(...)``, backticks, newlines, braces, non-ASCII); nothing in it
is ever evaluated. Templates use these as Jinja filters: ``{{ value | lua }}``.
"""

import json


def lua(value) -> str:
    """A double-quoted Lua string. Control bytes become ``\\ddd`` (three digits: never ambiguous)."""
    out = ['"']
    for ch in str(value):
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\{code:03d}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_TCL_SPECIAL = set('\\"$[]{};')


def tcl(value) -> str:
    """A double-quoted Tcl word. Every special character is backslash-escaped, braces too,

    so the word is also safe inside a braced body such as ``proc ModulesHelp {} { ... }``.
    """
    out = ['"']
    for ch in str(value):
        code = ord(ch)
        if ch in _TCL_SPECIAL:
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def sh(value) -> str:
    """A POSIX shell word (bash, zsh, sh): single-quoted, with ' written as '\\''."""
    text = str(value)
    if "\0" in text:
        raise ValueError("a NUL byte cannot be written into a shell script")
    return "'" + text.replace("'", "'\\''") + "'"


def csh(value) -> str:
    """A csh/tcsh word: single-quoted runs, with ' and ! (history) escaped outside the quotes.
    csh cannot carry a newline in a word portably: such a value is refused."""
    text = str(value)
    if any(c in text for c in "\n\r\0"):
        raise ValueError(f"a line break cannot be written into a csh script: {text!r}")
    out = ["'"]
    for ch in text:
        if ch in "'!":
            out.append("'\\" + ch + "'")
        else:
            out.append(ch)
    out.append("'")
    return "".join(out)


def fish(value) -> str:
    """A fish word: single-quoted, with \\ and ' escaped (fish keeps newlines inside quotes)."""
    text = str(value)
    if "\0" in text:
        raise ValueError("a NUL byte cannot be written into a fish script")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def json_value(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def python(value) -> str:
    """A Python string literal, ASCII only and on one line (safe in a ``.pth`` import line)."""
    return ascii(str(value))


def line(value) -> str:
    """A value for a ``key=value`` line: refused if it could start another line."""
    text = str(value)
    if any(c in text for c in "\n\r\0"):
        raise ValueError(f"a line break or NUL cannot be written into a key=value line: {text!r}")
    return text


FILTERS = {"lua": lua, "tcl": tcl, "sh": sh, "csh": csh, "fish": fish, "json": json_value, "line": line,
           "python": python}
