"""In-process checks of small rules the CLI relies on: shell, Python and key=value quoting
(read back by the real shells), package names for --no-binary, and the error texts of
names and specs (what the user reads)."""

import ast
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modsys import require
from pyenvmod.modules import quoting
from pyenvmod.packages import requirements
from pyenvmod.records import names
from pyenvmod.errors import PyenvmodError

VALUES = ["", "plain", "it's", "a'b'c", "!event", "a!b'c!", "$(id) `id` $HOME", "back\\slash\\", 'q"q',
          "tab\there", "ü 中文 🐍", "*?[a]", "~user", "-n", "a b  c", "%s"]


def read_back(shell, literal):
    """What SHELL prints for `printf '%s' LITERAL`."""
    require(shutil.which(shell) is not None, shell, f"apt-get install {shell}")
    args = [shell, "-f", "-c"] if shell in ("tcsh", "csh") else [shell, "-c"]
    result = subprocess.run([*args, f"printf '%s' {literal}"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("shell,quote", [("bash", quoting.sh), ("zsh", quoting.sh), ("tcsh", quoting.csh),
                                         ("fish", quoting.fish)])
def test_shell_words_read_back_exactly(shell, quote):
    values = VALUES + (["two\nlines"] if shell != "tcsh" else [])
    for value in values:
        assert read_back(shell, quote(value)) == value, (shell, value)


def test_exact_shell_words():
    assert quoting.sh("it's") == "'it'\\''s'"
    assert quoting.csh("it's!") == "'it'\\''s'\\!''"
    assert quoting.fish("a\\b'c") == "'a\\\\b\\'c'"
    assert quoting.sh(7) == "'7'" and quoting.csh(7) == "'7'" and quoting.fish(7) == "'7'"


@pytest.mark.parametrize("quote", [quoting.sh, quoting.fish, quoting.csh])
def test_a_nul_is_refused(quote):
    with pytest.raises(ValueError) as exc:
        quote("a\0b")
    assert "NUL" in str(exc.value) or "line break" in str(exc.value)


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\0b"])
def test_csh_and_key_value_lines_refuse_line_breaks(value):
    with pytest.raises(ValueError) as exc:
        quoting.csh(value)
    assert str(exc.value) == f"a line break cannot be written into a csh script: {value!r}"
    with pytest.raises(ValueError) as exc:
        quoting.line(value)
    assert str(exc.value) == f"a line break or NUL cannot be written into a key=value line: {value!r}"


def test_key_value_lines_pass_everything_else():
    assert quoting.line("a = b 'c' $x") == "a = b 'c' $x" and quoting.line(3) == "3"


@settings(max_examples=200, deadline=None)
@given(value=st.text(st.characters(blacklist_categories=("Cs",)), max_size=100))
def test_python_literals_are_ascii_one_line_and_read_back(value):
    literal = quoting.python(value)
    assert literal.isascii() and "\n" not in literal and "\r" not in literal
    assert ast.literal_eval(literal) == value
    assert quoting.python(5) == "'5'"


@pytest.mark.parametrize("names_", [[":all:"], ["mpi4py", "h5py"], ["a"], ["A.b-c_d9"], []])
def test_no_binary_names_accepted(names_):
    assert requirements.validate_names(names_) == names_


@pytest.mark.parametrize("bad", ["-x", "a b", "mpi4py,h5py", "a-", ".a", "all", ":ALL:", "", "a;b", "ü"])
def test_no_binary_names_refused(bad):
    if bad == "all":  # a package may be called "all"
        assert requirements.validate_names([bad]) == [bad]
        return
    with pytest.raises(PyenvmodError) as exc:
        requirements.validate_names(["ok", bad])
    assert exc.value.message == (f"invalid package name {bad!r} for --no-binary; give names like mpi4py,h5py")


@pytest.mark.parametrize("spec,reason", [
    ("-r reqs.txt", "it starts with '-'"),  # '-e PATH' is a spec of its own: an editable folder
    ("--index-url=x", "it starts with '-'"),
    ("numpy>>=1", "Expected"),
])
def test_package_spec_errors(spec, reason):
    with pytest.raises(PyenvmodError) as exc:
        requirements.validate(["six", spec])
    message = exc.value.message
    assert message.startswith(f"invalid package spec {spec!r} (") and reason in message
    assert message.endswith("); give a name with an optional version (numpy, 'numpy>=1.26'), a folder or archive "
                            "(./mypkg), -e ./mypkg, or a URL (git+https://..., 'pkg @ file:///...')")
    assert "\n" not in message
    assert requirements.validate(["six", "numpy>=1.26", "a[b]==1; python_version>'3'"]) == \
        ["six", "numpy>=1.26", "a[b]==1; python_version>'3'"]


@pytest.mark.parametrize("length,shown", [(80, "x" * 80), (81, "x" * 77 + "..."), (200, "x" * 77 + "...")])
def test_a_long_bad_name_is_shortened_in_the_message(length, shown):
    name = "x" * length
    with pytest.raises(PyenvmodError) as exc:
        names.validate(name)
    assert exc.value.message == f"invalid environment name {shown!r}: {names.RULE}"


def test_the_name_rule_text():
    assert names.RULE == ("a name uses letters, digits and . _ + - only, does not start with . or -, "
                          "and has at most 64 characters")
    with pytest.raises(PyenvmodError) as exc:
        names.validate("")
    assert exc.value.message == f"invalid environment name '': {names.RULE}"
    assert names.validate("x" * 64) == "x" * 64


def test_tcl_escapes_control_characters_only():
    assert quoting.tcl(" ~\x80é") == '" ~\x80é"'
    assert quoting.tcl("\x1f\x7f") == '"\\u001f\\u007f"'
    assert quoting.json_value("é\n") == '"é\\n"' and quoting.json_value(["a"]) == '["a"]'


def test_exact_literals_for_newlines_spaces_and_plain_letters():
    assert quoting.lua("\n \x1f") == '"\\n \\031"'
    assert quoting.tcl("\n") == '"\\n"'
    assert quoting.csh("X") == "'X'" and quoting.line("X") == "X"


def test_nul_messages_word_for_word():
    with pytest.raises(ValueError) as exc:
        quoting.sh("\0")
    assert str(exc.value) == "a NUL byte cannot be written into a shell script"
    with pytest.raises(ValueError) as exc:
        quoting.fish("\0")
    assert str(exc.value) == "a NUL byte cannot be written into a fish script"


def test_an_option_spec_message_word_for_word():
    with pytest.raises(PyenvmodError) as exc:
        requirements.validate(["-c constraints.txt"])
    assert exc.value.message == ("invalid package spec '-c constraints.txt' (it starts with '-'); give a name with an "
                                 "optional version (numpy, 'numpy>=1.26'), a folder or archive (./mypkg), -e ./mypkg, "
                                 "or a URL (git+https://..., 'pkg @ file:///...')")
