"""Keyed pseudonyms of user ids for logs and metrics."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from recsvc.errors import ConfigError
from recsvc.hashing import KeyedHasher

KEY = "k" * 32


def test_digest_is_the_truncated_hmac_sha256_of_the_id() -> None:
    expected = hmac.new(KEY.encode(), b"17850", hashlib.sha256).hexdigest()[:32]
    assert KeyedHasher.from_secret(KEY)("17850") == expected


def test_digest_is_stable_per_key_and_differs_across_keys() -> None:
    hasher = KeyedHasher.from_secret(KEY)
    other = KeyedHasher.from_secret("z" * 32)
    assert hasher("17850") == hasher("17850")
    assert hasher("17850") != hasher("17851")
    assert hasher("17850") != other("17850")


def test_a_short_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        KeyedHasher.from_secret("short")


def test_repr_hides_the_key() -> None:
    assert KEY not in repr(KeyedHasher.from_secret(KEY))
