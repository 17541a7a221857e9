"""Device API keys: their format, generation, hashing and constant-time verification.

A key reads ``pos_<key id>_<secret>``. The key id is public (it is the row's primary key,
listed by ``pos devices list`` and safe to log), so a request is authenticated with one
indexed lookup instead of hashing against every device; only the secret is secret, and
only its hash is stored. The ``pos_`` prefix lets secret scanners (and people) recognise a
leaked key.

Why SHA-256 and not bcrypt/scrypt/argon2: a slow KDF protects *low-entropy* secrets
(passwords) from offline guessing after a database leak. The secret here is 256 bits from
``secrets`` — guessing it costs 2**255 hashes on average whatever the hash speed — so a
fast preimage-resistant hash is as safe, and it keeps authentication at about a
microsecond on the hot path instead of tens of milliseconds per request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "pos"
KEY_ID_BYTES = 8  # 16 hex characters: collisions are irrelevant at fleet sizes, and checked
SECRET_BYTES = 32  # 256 bits of entropy

_KEY = re.compile(
    rf"{PREFIX}_(?P<key_id>[0-9a-f]{{{2 * KEY_ID_BYTES}}})_(?P<secret>[A-Za-z0-9_-]{{43}})"
)


class MalformedKeyError(ValueError):
    """The presented string is not shaped like one of our keys (no lookup is needed)."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    secret: str

    def __str__(self) -> str:
        return f"{PREFIX}_{self.key_id}_{self.secret}"

    def __repr__(self) -> str:
        # Never let the secret reach a log line or a traceback through repr().
        return f"ApiKey(key_id={self.key_id!r}, secret=<redacted>)"


def generate() -> ApiKey:
    return ApiKey(secrets.token_hex(KEY_ID_BYTES), secrets.token_urlsafe(SECRET_BYTES))


def parse(presented: str) -> ApiKey:
    match = _KEY.fullmatch(presented)
    if match is None:
        raise MalformedKeyError("not a device API key")
    return ApiKey(match["key_id"], match["secret"])


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def verify(key: ApiKey, stored_hash: bytes) -> bool:
    """Whether ``key`` matches the stored hash, in time independent of where they differ."""
    return hmac.compare_digest(hash_secret(key.secret), stored_hash)
