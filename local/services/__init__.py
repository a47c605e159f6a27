"""Servers of the local stack, each runnable as ``python -m local.services.<name>``."""
