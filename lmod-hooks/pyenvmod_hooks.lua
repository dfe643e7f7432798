--------------------------------------------------------------------------------
-- pyenvmod hooks for Lmod: site-level behaviour for pyenv/* modules.
--
--   local pyenvmod = require("pyenvmod_hooks")
--   pyenvmod.setup{ conda_warning = true, avail_label = true,
--                   hide_foreign = true, usage_log = false }
--
-- Behaviours (each switchable in setup{}):
--   conda_warning  warn when a pyenv/* module loads while a conda environment is
--                  active (CONDA_SHLVL > 0)
--   avail_label    show pyenvmod trees under their own heading in `module avail`,
--                  with the owner when it is not the user (Lmod applies avail
--                  labels only with LMOD_AVAIL_STYLE=grouped:system or similar)
--   hide_foreign   hide modules built for another CPU architecture / OS than this
--                  node's, and refuse to load them with where they were built
--   modulepath_hint  when `module load pyenv/NAME` fails as unknown and the user's
--                  pyenvmod tree is not on MODULEPATH, say `module use $(pyenvmod
--                  modulepath)` in Lmod's error (errWarnMsgHook; error path only)
--   swap_check     after a module command, warn when a loaded pyenv/* module was built
--                  with other modulefiles than the loaded ones (module swap gcc/12
--                  gcc/13 reloads openmpi from gcc/13's branch and keeps pyenv/*),
--                  naming the recorded and the loaded files (finalize hook)
--   usage_log      false (default), "syslog" (recommended), or the path of a
--                  file the site created (never created here): one line per
--                  pyenv/* load; syslog_socket: logger's socket (default /dev/log)
--
-- Chaining: Lmod 8.6 keeps one function per hook name. Requiring this file
-- wraps hook.register so that every function registered for a name (by this
-- file, or by a site's SitePackage.lua before or after it... see the admin
-- guide) runs in registration order instead of replacing the previous one.
-- Works in Lua 5.1 to 5.4 (Lmod's sandbox-free SitePackage context).
--------------------------------------------------------------------------------
local M = {}
local hook = require("Hook")   -- Lmod's hook registry

local defaults = {
    conda_warning = true,
    avail_label   = true,
    hide_foreign  = true,
    usage_log     = false,
    modulepath_hint = true,
    swap_check    = true,
    label         = "Python environments (pyenvmod)",
}

--------------------------------------------------------------------------------
-- Chaining hook.register
--------------------------------------------------------------------------------
-- Hooks whose return value Lmod uses, and which argument that value replaces
-- when passed on to the next function in the chain.
local RETURNS = { msgHook = 2, listHook = 1, errWarnMsgHook = 3 }   -- errWarnMsgHook(kind, key, msg, t)
local unpack = table.unpack or unpack

local function install_chaining(hook)
    if hook == nil or hook.pyenvmod_chained then return end
    local chains = {}
    local lmod_register = hook.register
    hook.register = function(name, fn, how)
        if chains[name] == nil then
            chains[name] = {}
            local list = chains[name]
            lmod_register(name, function(...)
                local args = { ... }
                local n = select("#", ...)
                local result
                for _, f in ipairs(list) do
                    result = f(unpack(args, 1, n))
                    local slot = RETURNS[name]
                    if slot and result ~= nil then args[slot] = result end
                end
                if RETURNS[name] then return args[RETURNS[name]] end
                return result
            end)
        end
        if how == "prepend" then
            table.insert(chains[name], 1, fn)
        else
            table.insert(chains[name], fn)
        end
    end
    hook.pyenvmod_chained = true
end

--------------------------------------------------------------------------------
-- Platform of this node and of a module tree
--------------------------------------------------------------------------------
local function clean(text)
    return (tostring(text or ""):gsub("[^A-Za-z0-9._+-]", ""))
end

local function read_lines(path)
    local f = io.open(path, "r")
    if not f then return nil end
    local lines = {}
    for line in f:lines() do lines[#lines + 1] = line end
    f:close()
    return lines
end

local function key_values(path)
    local lines = read_lines(path)
    if not lines then return nil end
    local t = {}
    for _, line in ipairs(lines) do
        local k, v = line:match("^%s*([%w_]+)%s*=%s*(.-)%s*$")
        if k then t[k] = v end
    end
    return t
end

local node_platform_cache
-- Same rule as pyenvmod's Python side: PYENVMOD_PLATFORM, else <uname -m>-<ID><VERSION_ID>.
function M.node_platform()
    local override = clean(os.getenv("PYENVMOD_PLATFORM"))
    if override ~= "" then return override end
    if node_platform_cache then return node_platform_cache end
    local arch
    local ok, posix = pcall(require, "posix")
    if ok and type(posix) == "table" and posix.uname then arch = posix.uname("%m") end
    if not arch or arch == "" then
        arch = (read_lines("/proc/sys/kernel/arch") or {})[1]
    end
    if not arch or arch == "" then
        local ok_popen, p = pcall(io.popen, "uname -m 2>/dev/null")
        if ok_popen and p then arch = p:read("*l"); p:close() end
    end
    local release = key_values(M.os_release or "/etc/os-release") or {}
    local os_id = clean(release.ID)
    if os_id == "" then os_id = "linux" end
    node_platform_cache = clean(arch) .. "-" .. os_id .. clean(release.VERSION_ID)
    return node_platform_cache
end

local tree_cache = {}
-- The pyenvmod tree holding a module tree folder (the folder on MODULEPATH), or nil.
function M.tree_info(modules_dir)
    local tree = modules_dir:gsub("/+$", ""):match("^(.*)/modules$")
    if not tree then return nil end
    if tree_cache[tree] == nil then
        tree_cache[tree] = key_values(tree .. "/pyenvmod-tree.conf") or false
        if tree_cache[tree] then tree_cache[tree].path = tree end
    end
    return tree_cache[tree] or nil
end

-- The tree of a pyenv/* modulefile (…/modules/pyenv/NAME/TAG[.lua]), or nil.
function M.module_tree(fn)
    local modules_dir = (fn or ""):match("^(.*)/pyenv/[^/]+/[^/]+$")
    return modules_dir and M.tree_info(modules_dir) or nil
end

-- Lmod commands that list modules (the names of lmod's command table).
local LISTING = { avail = true, spider = true, keyword = true, overview = true, search = true }

local function is_pyenv(full_name)
    return type(full_name) == "string" and full_name:sub(1, 6) == "pyenv/"
end

local function foreign(fn)
    local info = M.module_tree(fn)
    if info and info.platform and info.platform ~= M.node_platform() then return info end
    return nil
end

--------------------------------------------------------------------------------
-- The user's own pyenvmod tree, found as pyenvmod finds it (config.py): PYENVMOD_ROOT,
-- else `root:` in the user's then the site's configuration file, else the default root
-- ($XDG_DATA_HOME or ~/.local/share, then /pyenvmod); modules in ROOT/<platform>/modules.
-- Only read on the error path of an unknown pyenv/* module.
--------------------------------------------------------------------------------
local function env(name)
    local value = os.getenv(name)
    if value == nil or value == "" then return nil end
    return value
end

-- A top-level `root:` of a YAML configuration file (plain or quoted scalar), or nil, as YAML reads
-- it: a comment starts at a `#` after whitespace (after a quoted value, at any `#`); an empty value,
-- null and ~ are no root (pyenvmod refuses such a file; the next one is read, as for no `root:`).
local NULL = { [""] = true, null = true, Null = true, NULL = true, ["~"] = true }
function M.config_root(path)
    for _, line in ipairs(read_lines(path) or {}) do
        local rest = line:match("^root%s*:(.*)$")
        if rest and (rest == "" or rest:match("^%s")) then   -- `root:/a` is no key: value pair
            local value, after = rest:match('^%s*"([^"]*)"%s*(.-)%s*$')
            if not value then value, after = rest:match("^%s*'([^']*)'%s*(.-)%s*$") end
            if value then
                if after ~= "" and after:sub(1, 1) ~= "#" then value = "" end
            else
                value = rest:gsub("%s#.*$", ""):match("^%s*(.-)%s*$")
                if NULL[value] then value = "" end
            end
            if value ~= "" then return value end
        end
    end
    return nil
end

-- ~, $VAR, ${VAR} and {arch} expanded as pyenvmod does; nil when that is not enough
-- (an unset variable, or {python}, which needs the Python interpreter).
function M.expand(value)
    local home = env("HOME") or ""
    value = value:gsub("^~/", home .. "/"):gsub("^~$", home)
    local unset = false
    local function var(name)
        local v = os.getenv(name)
        if v == nil then unset = true; return "" end
        return v
    end
    value = value:gsub("%${([%w_]+)}", var):gsub("%$([%w_]+)", var)
    value = value:gsub("{arch}", function() return M.node_platform() end)
    if unset or value:find("{python}", 1, true) or value:sub(1, 1) ~= "/" then return nil end
    return value
end

local function normal(path)
    return (path:gsub("/+", "/"):gsub("(.)/$", "%1"))
end

-- The folder `pyenvmod modulepath` prints, or nil when it cannot be known without running it.
function M.user_modules_dir()
    local root = env("PYENVMOD_ROOT")
    if not root then
        local user_file = (env("XDG_CONFIG_HOME") or ((env("HOME") or "") .. "/.config")) .. "/pyenvmod/config.yaml"
        local site_file = env("PYENVMOD_SITE_CONFIG") or "/etc/pyenvmod/config.yaml"
        root = M.config_root(user_file) or M.config_root(site_file)
    end
    if root then
        root = M.expand(root)
        if not root then return nil end
    else
        root = (env("XDG_DATA_HOME") or ((env("HOME") or "") .. "/.local/share")) .. "/pyenvmod"
    end
    return normal(root .. "/" .. M.node_platform() .. "/modules")
end

local function on_modulepath(dir)
    for entry in (os.getenv("MODULEPATH") or ""):gmatch("[^:]+") do
        if normal(entry) == dir then return true end
    end
    return false
end

-- The hint for unknown modules MODULE_LIST (Lmod's space-separated list), or nil: only for
-- pyenv/* names, and only when the user's pyenvmod tree exists and is not on MODULEPATH.
function M.modulepath_hint(module_list)
    local names = {}
    for name in tostring(module_list or ""):gmatch("[^%s\"]+") do   -- Lmod quotes each name
        if is_pyenv(name) then names[#names + 1] = name end
    end
    if #names == 0 then return nil end
    local dir = M.user_modules_dir()
    if not dir or not M.tree_info(dir) or on_modulepath(dir) then return nil end
    local mine = {}
    for _, name in ipairs(names) do
        local short = name:match("^(pyenv/[^/]+)")
        local folder = short and io.open(dir .. "/" .. short .. "/", "r")   -- opens only if a folder
        if folder then folder:close(); mine[#mine + 1] = short end
    end
    local head
    if #mine > 0 then
        head = table.concat(mine, ", ") .. " is in your pyenvmod module tree " .. dir
            .. ", which is not on your MODULEPATH."
    else
        head = "Your pyenvmod module tree " .. dir .. " is not on your MODULEPATH."
    end
    return head .. " Run:\n  module use $(pyenvmod modulepath)\n(add that line to your shell start-up"
        .. " file to keep it), then load again."
end

--------------------------------------------------------------------------------
-- Swap check: a pyenv/* modulefile records the modulefiles its compiler and MPI modules
-- were loaded from at create time in PYENVMOD_BUILT_WITH (NAME=MODULE=FILE entries). Lmod
-- does not re-run it when `module swap` replaces one of them (or reloads one from another
-- branch of the hierarchy), so the finalize hook compares them with the loaded ones.
--------------------------------------------------------------------------------
-- The entries of a PYENVMOD_BUILT_WITH value: { {name=, module=, file=}, ... }.
function M.built_with(value)
    local list = {}
    for entry in tostring(value or ""):gmatch("[^:]+") do
        local name, module, file = entry:match("^([^=]+)=([^=]+)=(/.*)$")
        if name then list[#list + 1] = { name = name, module = module, file = file } end
    end
    return list
end

-- The entries whose environment is loaded (active(name)) and whose module is not loaded
-- from the recorded file; loaded(module) gives the loaded module of that name's family as
-- (full name, file), or nil. Each mismatch gets now / now_file (nil when none is loaded).
function M.mismatches(entries, active, loaded)
    local found = {}
    for _, e in ipairs(entries) do
        if active(e.name) then
            local now, now_file = loaded(e.module)
            if now ~= e.module or now_file ~= e.file then
                found[#found + 1] = { name = e.name, module = e.module, file = e.file,
                                      now = now, now_file = now_file }
            end
        end
    end
    return found
end

-- One message per environment, naming each recorded file and what is loaded instead.
function M.mismatch_messages(found)
    local order, by_name = {}, {}
    for _, m in ipairs(found) do
        if not by_name[m.name] then by_name[m.name] = {}; order[#order + 1] = m.name end
        table.insert(by_name[m.name], m)
    end
    local messages = {}
    for _, name in ipairs(order) do
        local lines, back = {}, nil
        for _, m in ipairs(by_name[name]) do
            if m.now then
                lines[#lines + 1] = "  " .. m.module .. " (" .. m.file .. "), now " .. m.now .. " ("
                    .. tostring(m.now_file) .. ")"
                if not back and m.now ~= m.module then back = "module swap " .. m.now .. " " .. m.module end
            else
                lines[#lines + 1] = "  " .. m.module .. " (" .. m.file .. "), now not loaded"
                back = back or ("module load " .. m.module)
            end
        end
        messages[#messages + 1] = "WARNING: pyenv/" .. name .. " was built with other modules than "
            .. "the loaded ones:\n" .. table.concat(lines, "\n") .. "\nIts compiled packages (mpi4py, ...) "
            .. "would run with another compiler or MPI. " .. (back and ("Go back (" .. back .. "), or ") or "")
            .. "unload it (module unload pyenv/" .. name .. "), or create it again with today's modules."
    end
    return messages
end

-- Commands after which the loaded modules may have changed.
local CHANGING = { load = true, try_load = true, swap = true, unload = true, purge = true, reset = true,
                   restore = true, update = true, use = true, unuse = true, refresh = true }

-- The module table's view: (full name, file) of the loaded module of MODULE's family.
local function loaded_in(mt)
    return function(module)
        local sn = module
        while sn and sn ~= "" do
            if mt:have(sn, "active") then return mt:fullName(sn), mt:fn(sn) end
            sn = sn:match("^(.*)/[^/]*$")
        end
        return nil
    end
end

-- PYENVMOD_BUILT_WITH as this command leaves it: Lmod's own record of the variables it
-- changed, else (untouched by this command) the value it started with.
local function built_with_now(frameStk)
    local ok, value = pcall(function()
        local var = frameStk:varT()["PYENVMOD_BUILT_WITH"]
        if var == nil then return nil end
        return var:expand() or ""
    end)
    if ok and value ~= nil then return value end
    return os.getenv("PYENVMOD_BUILT_WITH")
end

function M.swap_check(command)
    if not CHANGING[command] then return end
    local frameStk = require("FrameStk"):singleton()
    local value = built_with_now(frameStk)
    if not value or value == "" then return end
    local mt = frameStk:mt()
    local found = M.mismatches(M.built_with(value),
                               function(name) return mt:have("pyenv/" .. name, "active") end, loaded_in(mt))
    for _, message in ipairs(M.mismatch_messages(found)) do
        -- a message, not LmodWarning: the command itself worked and exits 0
        LmodMessage(message)
    end
end

--------------------------------------------------------------------------------
-- Behaviours
--------------------------------------------------------------------------------
local function shell_quote(text)
    return "'" .. tostring(text):gsub("'", "'\\''") .. "'"
end

--------------------------------------------------------------------------------
-- Usage log: one line per pyenv/* load. Who and where come from the kernel (the
-- real uid, the node's host name), never from USER or HOSTNAME, which anyone can
-- set; every value is escaped, so a module name cannot forge fields or lines. A
-- log file is only appended to, never created (whoever created it would own it);
-- when it cannot be written the line goes to syslog, with the reason, and if
-- syslog fails too the user is told once. Logging never fails a load.
--------------------------------------------------------------------------------
local function try_require(name)
    local ok, module = pcall(require, name)
    if ok and type(module) == "table" then return module end
    return nil
end

local function first_line_of_command(command)
    local ok, p = pcall(io.popen, command .. " 2>/dev/null")
    if not ok or not p then return nil end
    local line = p:read("*l")
    p:close()
    return line
end

-- A field value: printable ASCII without spaces or '=', anything else as %XX; at most 512 bytes.
function M.field(value)
    local text = tostring(value == nil and "" or value):sub(1, 512)
    if text == "" then return "?" end
    return (text:gsub("[^%w%._/+:@,%-]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- In a user namespace (unshare -r, a rootless container) the kernel shows the process its uid as
-- that namespace sees it, root often; /proc/self/uid_map maps it to the uid in the parent
-- namespace, which is what the log records (and the namespace's own uid as ns_uid).
local function outside_uid(uid)
    local n = tonumber(uid)
    if not n then return uid end
    for _, line in ipairs(read_lines("/proc/self/uid_map") or {}) do
        local inside, outside, count = line:match("^%s*(%d+)%s+(%d+)%s+(%d+)")
        inside, outside, count = tonumber(inside), tonumber(outside), tonumber(count)
        if inside and n >= inside and n < inside + count then
            return string.format("%d", outside + (n - inside))
        end
    end
    return uid
end

local identity_cache
-- (uid, user name, host name) of the process running Lmod, from the kernel; in a user namespace
-- the uid of the parent namespace, with the namespace's own as ns_uid.
function M.identity()
    if identity_cache then return identity_cache end
    local uid
    for _, line in ipairs(read_lines("/proc/self/status") or {}) do
        uid = uid or line:match("^Uid:%s*(%d+)")
    end
    local unistd = try_require("posix.unistd")
    if not uid and unistd and unistd.getuid then uid = tostring(unistd.getuid()) end
    uid = uid or first_line_of_command("id -u")
    local ns_uid
    if uid and outside_uid(uid) ~= uid then ns_uid, uid = uid, outside_uid(uid) end
    local name
    local pwd = try_require("posix.pwd")
    if uid and pwd and pwd.getpwuid then
        local entry = pwd.getpwuid(tonumber(uid))
        name = entry and entry.pw_name
    end
    if uid and not name then
        for _, line in ipairs(read_lines("/etc/passwd") or {}) do
            local n, id = line:match("^([^:]*):[^:]*:(%d+):")
            if id == uid then name = n; break end
        end
    end
    if uid and not name then name = first_line_of_command("id -nu " .. uid) end
    local host = (read_lines("/proc/sys/kernel/hostname") or {})[1]
    if not host or host == "" then
        local posix = try_require("posix")
        if posix and posix.uname then host = posix.uname("%n") end
    end
    if not host or host == "" then host = first_line_of_command("uname -n") end
    identity_cache = { uid = uid, user = name, host = host, ns_uid = ns_uid }
    return identity_cache
end

local function executed(a, _, code)   -- os.execute's result, Lua 5.1 and 5.2+
    if type(a) == "number" then return a == 0 end
    return a == true and (code == nil or code == 0)
end

local function to_syslog(text, socket)
    -- util-linux logger exits 0 when it cannot reach the socket unless asked to say so
    local command = "logger --socket-errors=on -t pyenvmod "
    if socket then command = command .. "-u " .. shell_quote(socket) .. " " end
    return executed(os.execute(command .. "-- " .. shell_quote(text) .. " >/dev/null 2>&1"))
end

-- Why a log file cannot be appended to, or nil once the line is written.
local function append(path, line)
    local stat = try_require("posix.sys.stat")
    if stat and stat.lstat then
        local st = stat.lstat(path)
        if not st then return "it does not exist" end
        local link = stat.S_ISLNK(st.st_mode)
        if link == true or (type(link) == "number" and link ~= 0) then return "it is a symbolic link" end
    else
        local probe, _, code = io.open(path, "r")
        if probe then probe:close() elseif code == 2 then return "it does not exist" end
    end
    local f, err = io.open(path, "a")
    if not f then return (tostring(err):gsub("^.-: ", "")) end
    local ok, werr = f:write(line, "\n")
    local closed, cerr = f:close()   -- the write is buffered: a full disk shows here
    if not ok then return tostring(werr) end
    if not closed then return tostring(cerr) end
    return nil
end

local said = {}   -- each problem is told once per Lmod process
local function once(key, text, tell)
    if said[key] then return end
    said[key] = true
    tell(text)
end

local function log_usage(opts, full_name, fn)
    local who = M.identity()
    local line = string.format("%s user=%s uid=%s host=%s module=%s file=%s", os.date("!%Y-%m-%dT%H:%M:%SZ"),
        M.field(who.user), M.field(who.uid), M.field(who.host), M.field(full_name), M.field(fn))
    if who.ns_uid then line = line .. " ns_uid=" .. M.field(who.ns_uid) end
    local where = opts.usage_log
    if where ~= "syslog" then
        local problem = append(where, line)
        if not problem then return end
        once("file", "cannot write the usage log " .. where .. " (" .. problem:gsub("%c", " ")
            .. "); logging to syslog instead: create it as the pyenvmod admin guide says",
            function(text) to_syslog(text, opts.syslog_socket) end)
    end
    if not to_syslog(line, opts.syslog_socket) then
        once("syslog", "pyenvmod: this load of " .. full_name .. " could not be logged (usage log "
            .. tostring(where) .. ", then syslog); please tell your site's support", LmodMessage)
    end
end

local function conda_message()
    return "A conda environment is active (CONDA_SHLVL=" .. tostring(os.getenv("CONDA_SHLVL")) .. "). "
        .. "Run 'conda deactivate' before loading Python environment modules: the conda "
        .. "environment's python, libraries and PYTHONPATH would otherwise mix with this one's."
end

function M.setup(options)
    local opts = {}
    for k, v in pairs(defaults) do opts[k] = v end
    for k, v in pairs(options or {}) do opts[k] = v end
    M.options = opts
    install_chaining(hook)

    hook.register("load", function(t)
        if not is_pyenv(t.modFullName) then return end
        local info = opts.hide_foreign and foreign(t.fn)
        if info then
            LmodError("Cannot load " .. t.modFullName .. ": it was built for " .. info.platform
                .. " (in " .. info.path .. ") and this node is " .. M.node_platform()
                .. ". Create the environment again on this kind of node (pyenvmod create).")
        end
        if opts.conda_warning and (tonumber(os.getenv("CONDA_SHLVL") or "0") or 0) > 0 then
            -- a message, not LmodWarning: a warning would make `module load` exit non-zero
            LmodMessage("WARNING: " .. conda_message())
        end
        if opts.usage_log then
            local ok, err = pcall(log_usage, opts, t.modFullName, t.fn)   -- never fails the load
            if not ok then
                once("error", "pyenvmod: the usage log failed (" .. tostring(err) .. "); the module is loaded",
                     LmodMessage)
            end
        end
    end)

    if opts.hide_foreign then
        -- Hidden from listings only: a load by name still reaches the load hook above,
        -- which then says where the module was built instead of "unknown module".
        hook.register("startup", function(command) M.command = command end)
        hook.register("isVisibleHook", function(modT)
            if LISTING[M.command] and is_pyenv(modT.fullName or modT.sn) and foreign(modT.fn) then
                modT.isVisible = false
            end
        end)
    end

    if opts.swap_check then
        hook.register("finalize", function(command)
            local ok, err = pcall(M.swap_check, command)   -- a check never fails a module command
            if not ok then once("swap", "pyenvmod: the swap check failed (" .. tostring(err) .. ")", LmodMessage) end
        end)
    end

    if opts.modulepath_hint then
        -- Lmod reports unknown modules with the message key e_Failed_Load; our hint goes
        -- right under its first line ("The following module(s) are unknown: ...").
        hook.register("errWarnMsgHook", function(kind, key, msg, t)
            if key ~= "e_Failed_Load" or type(t) ~= "table" then return msg end
            local ok, hint = pcall(M.modulepath_hint, t.module_list)   -- a hint never breaks the error
            if not ok or not hint then return msg end
            local first, rest = tostring(msg):match("^([^\n]*)\n*(.*)$")   -- one blank line each side
            return first .. "\n\n" .. hint .. "\n" .. (rest ~= "" and ("\n" .. rest) or "")
        end)
    end

    if opts.avail_label then
        hook.register("avail", function(labels)
            local me = os.getenv("USER")
            for mpath, _ in pairs(labels) do
                local info = M.tree_info(mpath)
                if info then
                    local label = opts.label
                    if info.owner and info.owner ~= "" and info.owner ~= me then
                        label = label .. " of " .. info.owner
                    end
                    labels[mpath] = label .. ": " .. mpath
                end
            end
        end)
    end
    return M
end

-- Load a site's own SitePackage-style file after this one, so its hooks chain too.
function M.chain_file(path)
    install_chaining(hook)
    local chunk, err = loadfile(path)
    if not chunk then error("pyenvmod_hooks: cannot load " .. path .. ": " .. tostring(err)) end
    return chunk()
end

install_chaining(hook)
return M
