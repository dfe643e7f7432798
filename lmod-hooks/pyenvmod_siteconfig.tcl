##############################################################################
# pyenvmod's site configuration for Environment Modules 5 (the Tcl module system).
#
# Install, for every user (for example in /etc/profile.d/):
#     export MODULES_SITECONFIG=<this folder>/pyenvmod_siteconfig.tcl
# or, when the site has its own siteconfig.tcl, add to it:
#     source <this folder>/pyenvmod_siteconfig.tcl
# (`pyenvmod site hooks` prints the exact lines.)
#
# What it adds: when `module load pyenv/NAME` fails with "Unable to locate a
# modulefile" and the user's pyenvmod tree exists but is not on MODULEPATH, the
# error says to run `module use $(pyenvmod modulepath)`. Nothing else changes,
# and nothing runs unless that error happens.
#
# The tree is found as pyenvmod finds it: PYENVMOD_ROOT, else `root:` in the
# user's then the site's configuration file, else $XDG_DATA_HOME/pyenvmod
# (~/.local/share/pyenvmod); its modules are in ROOT/<platform>/modules.
##############################################################################

namespace eval ::pyenvmod {}

proc ::pyenvmod::getenv {name} {
    if {[info exists ::env($name)]} { return $::env($name) }
    return {}
}

proc ::pyenvmod::clean {text} {
    return [regsub -all {[^A-Za-z0-9._+-]} $text {}]
}

# <arch>-<ID><VERSION_ID> from /etc/os-release, or PYENVMOD_PLATFORM (as pyenvmod's Python side).
proc ::pyenvmod::platform {} {
    set override [getenv PYENVMOD_PLATFORM]
    if {$override ne {}} { return $override }
    array set release {ID {} VERSION_ID {}}
    if {![catch {open /etc/os-release r} fh]} {
        foreach line [split [read $fh] \n] {
            if {[regexp {^([A-Z_]+)=(.*)$} [string trim $line] -> key value]} {
                set release($key) [string trim $value "\"'"]
            }
        }
        close $fh
    }
    set os [clean $release(ID)]
    if {$os eq {}} { set os [clean [string tolower $::tcl_platform(os)]] }
    return "[clean $::tcl_platform(machine)]-$os[clean $release(VERSION_ID)]"
}

# A top-level `root:` of a YAML configuration file (a plain or quoted value), or {}, as YAML reads
# it: a comment starts at a `#` after whitespace (after a quoted value, at any `#`); an empty
# value, null and ~ are no root (pyenvmod refuses such a file; the next one is read).
proc ::pyenvmod::config_root {path} {
    if {[catch {open $path r} fh]} { return {} }
    set found {}
    foreach line [split [read $fh] \n] {
        if {[regexp {^root\s*:(\s.*)?$} $line -> rest]} {
            if {[regexp {^\s*"([^"]*)"\s*(.*?)\s*$} $rest -> value after]
                    || [regexp {^\s*'([^']*)'\s*(.*?)\s*$} $rest -> value after]} {
                if {$after ne {} && [string index $after 0] ne "#"} { set value {} }
            } else {
                regsub {\s#.*$} $rest {} value
                set value [string trim $value]
                if {$value in {null Null NULL ~}} { set value {} }
            }
            if {$value ne {}} { set found $value }
            break
        }
    }
    close $fh
    return $found
}

# ~, $VAR, ${VAR} and {arch} expanded; {} when that is not enough (an unset variable, {python}).
proc ::pyenvmod::expand {value} {
    regsub {^~(/|$)} $value "[getenv HOME]\\1" value
    set out {}
    while {[regexp -indices {\$\{?([A-Za-z0-9_]+)\}?} $value match name]} {
        set var [string range $value {*}$name]
        if {![info exists ::env($var)]} { return {} }
        append out [string range $value 0 [expr {[lindex $match 0] - 1}]] $::env($var)
        set value [string range $value [expr {[lindex $match 1] + 1}] end]
    }
    set value [string map [list "{arch}" [platform]] $out$value]
    if {[string first "{python}" $value] >= 0 || [string index $value 0] ne "/"} { return {} }
    return $value
}

# The folder `pyenvmod modulepath` prints, or {} when it cannot be known without running it.
proc ::pyenvmod::modules_dir {} {
    set root [getenv PYENVMOD_ROOT]
    if {$root eq {}} {
        set config [getenv XDG_CONFIG_HOME]
        if {$config eq {}} { set config [getenv HOME]/.config }
        set site [getenv PYENVMOD_SITE_CONFIG]
        if {$site eq {}} { set site /etc/pyenvmod/config.yaml }
        set root [config_root $config/pyenvmod/config.yaml]
        if {$root eq {}} { set root [config_root $site] }
    }
    if {$root ne {}} {
        set root [expand $root]
        if {$root eq {}} { return {} }
    } else {
        set data [getenv XDG_DATA_HOME]
        if {$data eq {}} { set data [getenv HOME]/.local/share }
        set root $data/pyenvmod
    }
    return [file normalize $root/[platform]/modules]
}

# The hint for the unknown module MOD, or {}.
proc ::pyenvmod::hint {mod} {
    set dir [modules_dir]
    if {$dir eq {} || ![file isfile [file dirname $dir]/pyenvmod-tree.conf]} { return {} }
    foreach entry [split [getenv MODULEPATH] :] {
        if {$entry ne {} && [file normalize $entry] eq $dir} { return {} }
    }
    set short [join [lrange [split $mod /] 0 1] /]
    if {[file isdirectory $dir/$short]} {
        set head "$short is in your pyenvmod module tree $dir, which is not on your MODULEPATH."
    } else {
        set head "Your pyenvmod module tree $dir is not on your MODULEPATH."
    }
    return "$head Run:\n  module use \$(pyenvmod modulepath)\n(add that line to your shell start-up file to keep\
        it), then load again."
}

# Environment Modules reports a module it cannot find through reportIssue; the hint is added
# to that error only (once, even when this file is sourced twice).
if {[info procs reportIssue] ne {} && [info procs ::pyenvmod::reportIssue] eq {}} {
    rename reportIssue ::pyenvmod::reportIssue
    proc reportIssue {issuetype issuemsg {issuefile {}}} {
        if {$issuetype eq {none}
                && [regexp {^Unable to locate a modulefile for '(pyenv/[^']*)'} $issuemsg -> mod]
                && ![catch {::pyenvmod::hint $mod} hint] && $hint ne {}} {
            append issuemsg \n $hint
        }
        ::pyenvmod::reportIssue $issuetype $issuemsg $issuefile
    }
}
