"""Keyed pseudonyms of user ids for logs and metrics: HMAC-SHA256 with a secret key.

Raw user ids live only in the event store (the system of record); logs and metrics carry
`KeyedHasher(key)(user_id)`, stable for a given key so one user's lines can be correlated,
and not reversible by dictionary attack without the key (a plain sha256 of a numeric
customer id would be). Rotating the key breaks correlation with older logs, by design.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from recsvc.errors import ConfigError

MIN_KEY_BYTES = 16
DIGEST_HEX_CHARS = 32  # 128 bits: collisions are negligible for any realistic user count


@dataclass(frozen=True, repr=False)
class KeyedHasher:
    """`hasher(value)` → the first 32 hex characters of HMAC-SHA256(key, value as UTF-8)."""

    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) < MIN_KEY_BYTES:
            raise ConfigError(
                f"the log hashing key has {len(self.key)} bytes, "
                f"at least {MIN_KEY_BYTES} bytes are required; generate one with: "
                "python -c 'import secrets; print(secrets.token_hex(32))'"
            )

    @classmethod
    def from_secret(cls, secret: str) -> KeyedHasher:
        """Build from a settings string (its UTF-8 bytes are the key)."""
        return cls(secret.encode())

    def __call__(self, value: str) -> str:
        mac = hmac.new(self.key, value.encode(), hashlib.sha256)
        return mac.hexdigest()[:DIGEST_HEX_CHARS]

    def __repr__(self) -> str:
        return "KeyedHasher(key=<redacted>)"
