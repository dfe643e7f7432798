"""A small recording fake of the Lmod modulefile API, run in lupa (Lua 5.3 and 5.4).

It records every call a modulefile makes, in load or unload mode, so unit tests can
assert the actions; the same modulefiles also run in real Lmod (test_modules_real),
so the fake cannot drift from the real API unnoticed.
"""



FAKE_API = b"""
local calls = {}
local function record(name, ...)
    local entry = {name}
    for i = 1, select("#", ...) do entry[#entry + 1] = tostring((select(i, ...))) end
    calls[#calls + 1] = entry
end
for _, name in ipairs({"whatis", "help", "prepend_path", "append_path", "remove_path", "pushenv",
                       "setenv", "unsetenv", "depends_on", "load", "prereq", "conflict", "LmodMessage",
                       "extensions", "source_sh"}) do
    _G[name] = function(...) record(name, ...) end
end
function LmodError(...)
    record("LmodError", ...)
    error("LmodError: " .. table.concat({...}), 0)
end
function mode() return __mode end
function myModuleName() return __module_name end
function myModuleFullName() return __module_fullname end
function isDir(path) return __is_dir(path) end
function pathJoin(...) return table.concat({...}, "/") end
function os.getenv(name) return __getenv(name) end
__calls = calls
"""


def run_modulefile(runtime_module, text: str, mode: str = "load", existing_dirs=(), environ=None,
                   module_name="pyenv/x", fullname="pyenv/x/py3.12"):
    """Run a Lua modulefile in a fresh runtime; return (calls, error or None)."""
    lua = runtime_module.LuaRuntime(encoding=None)
    g = lua.globals()
    g.__mode = mode.encode()
    g.__module_name = module_name.encode()
    g.__module_fullname = fullname.encode()
    dirs = {d.encode() if isinstance(d, str) else d for d in existing_dirs}
    g.__is_dir = lambda path: path in dirs
    env = {k.encode(): v.encode() for k, v in (environ or {}).items()}
    g.__getenv = lambda name: env.get(name)
    lua.execute(FAKE_API)
    error = None
    try:
        lua.execute(text.encode("utf-8"))
    except Exception as exc:  # lupa.LuaError
        error = str(exc)
    calls = [[c.decode("utf-8") for c in entry.values()] for entry in lua.globals().__calls.values()]
    return calls, error


def runtimes():
    import lupa.lua53
    import lupa.lua54

    return [lupa.lua53, lupa.lua54]





# --- SitePackage hooks --------------------------------------------------------------------

HOOK_API = b"""
local registry = {}
__hook_calls = {}
package.preload["Hook"] = function()
    return {
        register = function(name, fn) registry[name] = fn end,
        apply = function(name, ...) if registry[name] then return registry[name](...) end end,
        registered = function(name) return registry[name] ~= nil end,
    }
end
local function record(kind, ...)
    local entry = {kind}
    for i = 1, select("#", ...) do entry[#entry + 1] = tostring((select(i, ...))) end
    __hook_calls[#__hook_calls + 1] = entry
end
function LmodMessage(...) record("LmodMessage", table.concat({...})) end
function LmodWarning(...) record("LmodWarning", table.concat({...})) end
function LmodError(...)
    record("LmodError", table.concat({...}))
    error("LmodError: " .. table.concat({...}), 0)
end
function os.getenv(name) return __getenv(name) end
"""


class Hooks:
    """Lmod's hook registry and message functions, faked in lupa, with pyenvmod's hooks loaded."""

    def __init__(self, runtime_module, hooks_dir, environ=None):
        self.lua = runtime_module.LuaRuntime(encoding=None)
        self.environ = {k.encode(): v.encode() for k, v in (environ or {}).items()}
        self.lua.globals()[b"__getenv"] = lambda name: self.environ.get(name)
        self.lua.execute(HOOK_API)
        self.lua.execute(b'package.path = "' + str(hooks_dir).encode() + b'/?.lua;" .. package.path')
        self.hook = self.lua.eval(b'require("Hook")')

    def setenv(self, name, value):
        self.environ[name.encode()] = value.encode()

    def run(self, code: str):
        """Execute Lua; return the error text or None."""
        try:
            self.lua.execute(code.encode())
        except Exception as exc:  # lupa.LuaError
            return str(exc)
        return None

    def apply(self, name, *args):
        """Call a hook the way Lmod does; return (result, error text or None)."""
        self.lua.globals()[b"__args"] = self.lua.table(*[a.encode() if isinstance(a, str) else a for a in args])
        try:
            result = self.lua.eval(b'(function(h, a) return h.apply("' + name.encode()
                                   + b'", table.unpack(a, 1, #a)) end)(require("Hook"), __args)')
        except Exception as exc:
            return None, str(exc)
        return result, None

    def table(self, **values):
        return self.lua.table_from({k.encode(): (v.encode() if isinstance(v, str) else v)
                                    for k, v in values.items()})

    def calls(self):
        return [[c.decode() for c in entry.values()] for entry in self.lua.globals()[b"__hook_calls"].values()]
