--------------------------------------------------------------------------------
-- Lmod SitePackage.lua shipped with pyenvmod.
--
-- Install: export LMOD_PACKAGE_PATH=<this folder> for every user (for example in
-- /etc/profile.d/); `pyenvmod site hooks` prints the exact line.
--
-- Switch behaviours on or off below. To keep a SitePackage.lua you already have,
-- uncomment the chain_file line: its hook.register calls then chain with these
-- instead of replacing them (or, in your own SitePackage.lua, add
-- require("pyenvmod_hooks").setup{} before your own hook.register calls).
--------------------------------------------------------------------------------
local pyenvmod = require("pyenvmod_hooks")

pyenvmod.setup{
    conda_warning = true,    -- warn when a conda environment is active at load
    avail_label   = true,    -- own heading for pyenvmod trees in `module avail`
    hide_foreign  = true,    -- hide/refuse modules built for another arch/OS
    modulepath_hint = true,  -- unknown pyenv/NAME: say `module use $(pyenvmod modulepath)`
    swap_check    = true,    -- warn when a swap replaced a module a loaded pyenv/* was built with
                             -- when the user's pyenvmod tree is not on MODULEPATH
    usage_log     = false,   -- false, "syslog" (recommended), or "/path/to/pyenv-usage.log"
                             -- (a file the site created: see the admin guide, "The usage log")
}

-- pyenvmod.chain_file("/etc/lmod/SitePackage.lua")
