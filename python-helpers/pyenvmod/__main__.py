from pyenvmod.cli import entry

entry()
