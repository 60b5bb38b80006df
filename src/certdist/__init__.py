"""certdist: distribution of signed health certificates, wire-compatible with DIVOC."""

__version__ = "0.1.0"
