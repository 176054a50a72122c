"""csrebind: keyboard-driven rebinding of CryoSPARC results in the terminal."""

__version__ = "0.1.0"
