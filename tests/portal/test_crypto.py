"""Secrets at rest: encrypted, tamper-evident, and rotated to a new key."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.crypto import SecretUnreadable, Vault, derive_key, generate_key, parse_keys
from portal.domain import linking
from portal.storage.models import LinkedAccount, OAuthApp, User
from tests.fixtures.app import api_sign_up


def test_a_secret_round_trips_and_is_not_readable_without_the_key():
    vault = Vault([generate_key()])
    token = vault.encrypt_json({"access_token": "abc123"})
    assert "abc123" not in token
    assert vault.decrypt_json(token) == {"access_token": "abc123"}
    with pytest.raises(SecretUnreadable):
        Vault([generate_key()]).decrypt(token)
    with pytest.raises(SecretUnreadable):
        vault.decrypt(token[:-4] + "AAAA")


def test_the_derived_key_is_stable_and_keys_are_checked():
    assert derive_key("s" * 40) == derive_key("s" * 40) != derive_key("t" * 40)
    key = generate_key()
    assert parse_keys(f" {key}, {key} ") == [key, key]
    with pytest.raises(ValueError, match="32 url-safe base64"):
        parse_keys("not-a-key")


async def test_rotation_re_encrypts_every_secret_under_the_new_key(client, db):
    await api_sign_up(client)
    old, new = generate_key(), generate_key()
    before = Vault([old])
    user = (await db.scalars(select(User))).one()
    db.add(
        LinkedAccount(
            user_id=user.id,
            network="email",
            handle="ada@example.org",
            secrets=before.encrypt_json({"access_token": "a"}),
        )
    )
    db.add(
        OAuthApp(
            network="mastodon",
            server="example.social",
            redirect_uri="https://portal.test/cb",
            client_id="c",
            secrets=before.encrypt_json({"client_secret": "s"}),
        )
    )
    await db.flush()
    seen: list[tuple[int, int]] = []
    rotated = await linking.rotate_secrets(db, Vault([new, old]), lambda d, t: seen.append((d, t)))
    assert rotated == 2 and seen[-1] == (2, 2)
    only_new = Vault([new])
    account = (await db.scalars(select(LinkedAccount))).one()
    app = (await db.scalars(select(OAuthApp))).one()
    assert only_new.decrypt_json(account.secrets) == {"access_token": "a"}
    assert only_new.decrypt_json(app.secrets) == {"client_secret": "s"}
