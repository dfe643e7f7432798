"""pyenvmod: every Python environment an environment module."""

__version__ = "0.1.0"
