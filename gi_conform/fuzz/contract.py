"""What every fuzz target raises when a surface breaks its documented contract."""

from __future__ import annotations

__all__ = ["ContractBreach"]


class ContractBreach(AssertionError):
    """A surface's outcome is not one its API documents (a crash is any other exception)."""
