"""Secrets at rest: linked accounts' tokens and passwords are stored encrypted.

Fernet (AES-128-CBC with HMAC-SHA256, authenticated) under a list of keys: the first encrypts,
every one decrypts, so a key is rotated by putting a new one first, running
``portal rotate-keys`` (which re-encrypts every stored secret), then dropping the old one.
Without ``PORTAL_ENCRYPTION_KEYS`` one key is derived from ``PORTAL_SECRET_KEY`` with HKDF.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretUnreadable(Exception):
    """A stored secret was encrypted under a key this portal no longer has, or was altered."""


def derive_key(secret_key: str) -> str:
    """A Fernet key derived from the portal's secret key (HKDF-SHA256, its own context)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal secrets at rest v1")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode())).decode()


def parse_keys(text: str) -> list[str]:
    """Keys separated by commas or spaces, newest first; each a Fernet key (44 characters)."""
    keys = [key for key in text.replace(",", " ").split() if key]
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError) as error:
            raise ValueError(
                "each encryption key must be 32 url-safe base64-encoded bytes "
                "(make one with `portal generate-key`)"
            ) from error
    return keys


def generate_key() -> str:
    return Fernet.generate_key().decode()


class Vault:
    """Encrypts and decrypts text and JSON under the configured keys."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as error:
            raise SecretUnreadable("a stored secret cannot be decrypted with these keys") from error

    def encrypt_json(self, value: dict[str, Any]) -> str:
        return self.encrypt(json.dumps(value, separators=(",", ":"), sort_keys=True))

    def decrypt_json(self, token: str) -> dict[str, Any]:
        value = json.loads(self.decrypt(token))
        if not isinstance(value, dict):
            raise SecretUnreadable("a stored secret is not an object")
        return value

    def rotate(self, token: str) -> str:
        """The same secret encrypted under the newest key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as error:
            raise SecretUnreadable("a stored secret cannot be decrypted with these keys") from error
