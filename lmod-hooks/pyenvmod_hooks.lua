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
    label         = "Python environments (pyenvmod)",
}

--------------------------------------------------------------------------------
-- Chaining hook.register
--------------------------------------------------------------------------------
-- Hooks whose return value Lmod uses, and which argument that value replaces
-- when passed on to the next function in the chain.
local RETURNS = { msgHook = 2, listHook = 1, errWarnMsgHook = 4 }
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
