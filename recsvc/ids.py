"""Recommendation and request ids: 32 hex characters, unique, cheap, and increasing.

An id is a random 64-bit prefix, drawn once per process (again after a fork), followed by
a 64-bit counter. Unlike `uuid4()` it costs no system call per request (`os.urandom`
releases the GIL, and taking it back behind the impression writer thread cost more than
the whole rest of a cached answer), and ids of one process are increasing, so the
impression log's primary-key B-trees grow at their end instead of splitting pages at
random (half the store's CPU per impression). The ids are not secrets: nothing is
authorised by knowing one.
"""

from __future__ import annotations

import itertools
import os
import secrets


class _IdSource:
    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_SOURCE = _IdSource()
os.register_at_fork(after_in_child=_SOURCE.reseed)


def new_id() -> str:
    """A fresh id: 32 lowercase hex characters (two processes share a prefix with
    probability 2**-64)."""
    return _SOURCE.new()
