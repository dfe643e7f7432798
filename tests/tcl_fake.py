"""A small recording fake of the Environment Modules Tcl API, run in a real tclsh.

Like lmod_fake for Lua: records the calls a Tcl modulefile makes; the same files
then run in real Environment Modules (test_modules_real).
"""

import shutil
import subprocess

FAKE_API = r"""
fconfigure stdout -encoding utf-8 -translation lf
encoding system utf-8
set ::calls {}
proc record {args} { lappend ::calls $args }
foreach name {module-whatis prepend-path append-path remove-path pushenv setenv unsetenv depends-on prereq conflict module} {
    proc $name {args} "record $name {*}\$args"
}
proc module-info {what args} {
    if {$what eq "mode"} {
        if {[llength $args]} { return [expr {$::mode eq [lindex $args 0]}] }
        return $::mode
    }
    if {$what eq "name"} { return $::module_name }
    if {$what eq "command"} { return $::command }
    return ""
}
rename puts _puts
proc puts {args} { record puts [lindex $args end] }
"""

DUMP = r"""
foreach call $::calls {
    set hex {}
    foreach item $call { lappend hex [binary encode hex [encoding convertto utf-8 $item]] }
    _puts [join $hex " "]
}
"""


def run_modulefile(text: str, mode: str = "load", module_name="pyenv/x/py3.12", call_help=True, environ=None,
                   command=None):
    """Source a Tcl modulefile under the fake; return (calls, error or None). ``command`` is what
    `module-info command` says (default: the mode; `switch` for a module switch)."""
    tclsh = shutil.which("tclsh")
    env_lines = "".join(f"set ::env({key}) {{{value}}}\n" for key, value in (environ or {}).items())
    script = (
        FAKE_API
        + f"set ::mode {mode}\nset ::module_name {{{module_name}}}\nset ::command {command or mode}\n"
        + env_lines
        + "set rc [catch {\n"
        + text
        + "\n} err]\n"
        + ("if {$rc == 0 && [llength [info procs ModulesHelp]]} { ModulesHelp }\n" if call_help else "")
        + DUMP
        + "if {$rc == 3} { _puts BREAK }\n"
        + "if {$rc == 1} { _puts ERROR:[binary encode hex [encoding convertto utf-8 $err]] }\n"
    )
    proc = subprocess.run([tclsh], input=script.encode("utf-8"), capture_output=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError(proc.stderr.decode("utf-8", "replace"))
    calls, error = [], None
    for line in proc.stdout.decode().splitlines():
        if line.startswith("ERROR:"):
            error = bytes.fromhex(line[6:]).decode("utf-8")
        elif line == "BREAK":  # the documented way to refuse a load: puts stderr, then break
            error = "break: " + (calls[-1][1] if calls and calls[-1][0] == "puts" else "")
        elif line.strip():
            calls.append([bytes.fromhex(h).decode("utf-8") for h in line.split(" ")])
    return calls, error
