"""Every value written into Lua or Tcl comes back byte-for-byte and is never executed.

Lua is checked in lupa (Lua 5.3, as Debian's Lmod runs, and 5.4); Tcl in a real tclsh.
"""

import json
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modsys import require
from pyenvmod.modules import quoting

HOSTILE = [
    "",
    'a"b',
    "a'b",
    "]]",
    "]]..os.exit(1)..[[",
    "$(touch /tmp/pwned)",
    "`id`",
    "a\nb\r\nc",
    "x; rm -rf /",
    "{}{",
    "}",
    "[exec id]",
    "\\",
    "a\\\\nb",
    "\\x41\\u0041",
    "é ü 中文 🐍",
    "\x00\x01\x1b[31m\x7f",
    "x" * 5000,
    "%s %d {0}",
]
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)


def lua_runtimes():
    try:
        import lupa.lua53
        import lupa.lua54
    except ImportError:
        require(False, "lupa with Lua 5.3 and 5.4", "pip install lupa")
    return [lupa.lua53.LuaRuntime(encoding=None), lupa.lua54.LuaRuntime(encoding=None)]


@pytest.fixture(scope="module")
def luas():
    return lua_runtimes()


def lua_roundtrip(lua, value: str) -> str:
    literal = quoting.lua(value).encode("utf-8")
    return lua.execute(b"return " + literal).decode("utf-8")


@pytest.mark.parametrize("value", HOSTILE)
def test_lua_literal_roundtrips_in_53_and_54(luas, value):
    for lua in luas:
        assert lua_roundtrip(lua, value) == value


@settings(max_examples=300, deadline=None)
@given(text)
def test_lua_literal_roundtrips_any_text(value):
    for lua in lua_runtimes():
        assert lua_roundtrip(lua, value) == value


def test_lua_literal_is_one_line():
    assert "\n" not in quoting.lua("a\nb\rc")


@pytest.fixture(scope="module")
def tclsh():
    require(shutil.which("tclsh") is not None, "tclsh", "apt-get install tcl")
    return shutil.which("tclsh")


def tcl_roundtrip(tclsh, values):
    """Evaluate each literal inside a braced proc body, as ModulesHelp does, and read it back."""
    script = ["fconfigure stdout -encoding utf-8 -translation lf", "proc show {} {"]
    for value in values:
        script.append(f"    puts -nonewline [binary encode hex [encoding convertto utf-8 {quoting.tcl(value)}]]")
        script.append("    puts {}")
    script.append("}")
    script.append("show")
    proc = subprocess.run([tclsh], input="\n".join(script).encode("utf-8"), capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().split("\n")
    assert len(lines) == len(values) + 1 and lines[-1] == ""
    return [bytes.fromhex(line).decode("utf-8") for line in lines[: len(values)]]


def test_tcl_literal_roundtrips(tclsh):
    assert tcl_roundtrip(tclsh, HOSTILE) == HOSTILE


@settings(max_examples=100, deadline=None)
@given(st.lists(text, min_size=1, max_size=20))
def test_tcl_literal_roundtrips_any_text(values):
    tcl = shutil.which("tclsh")
    require(tcl is not None, "tclsh", "apt-get install tcl")
    assert tcl_roundtrip(tcl, values) == values


@pytest.mark.parametrize("value", HOSTILE)
def test_json_roundtrips(value):
    assert json.loads(quoting.json_value(value)) == value
