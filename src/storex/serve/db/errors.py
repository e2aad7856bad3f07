"""Errors of the storage layer that the error tree in :mod:`storex.errors` does not cover."""

from __future__ import annotations

from storex.errors import StorexError


class DuplicateError(StorexError):
    """A row would repeat a unique key (a user's external id, a user's rating of an item)."""
