"""Answers come home from a real Bluesky: a post published by the portal to an account of a
PDS with the Bluesky AppView (``atproto_appview``), a reply and a like made there by others,
and the post's page showing them — one of them by a portal number."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.config import Settings
from portal.deps import job_worker
from portal.domain import linking
from portal.storage.models import LinkedAccount
from tests.fixtures.app import HTML, csrf_from, make_settings
from tests.fixtures.atproto import AtprotoAccount, AtprotoNetwork, expire_access
from tests.portal.domain import people


@pytest.fixture
def settings(atproto_appview: AtprotoNetwork) -> Settings:
    return make_settings(
        atproto_plc_url=atproto_appview.plc_url,
        atproto_resolver_url=atproto_appview.pds_url,
        connectors_allow_loopback=True,
    )


async def _write(
    network: AtprotoNetwork, who: AtprotoAccount, collection: str, record: dict[str, Any]
) -> None:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    await network.xrpc(
        "com.atproto.repo.createRecord",
        {
            "repo": who.did,
            "collection": collection,
            "record": {"$type": collection, "createdAt": now, **record},
        },
        token=who.access_jwt,
    )


async def test_a_reply_and_a_like_on_bluesky_come_home(
    signed_in: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    atproto_appview: AtprotoNetwork,
) -> None:
    network = atproto_appview
    ada = await network.create_account("ada", display_name="Ada")
    bob = await network.create_account("bob", display_name="Bob on Bluesky")
    cat = await network.create_account("cat")
    # Bob has a portal number, with his Bluesky account linked and shown to everyone.
    portal_bob = await people.person(db, "Bob")
    db.add(
        LinkedAccount(
            user_id=portal_bob.id,
            network="bluesky",
            handle=bob.handle,
            external_id=bob.did,
            status=linking.VERIFIED,
            audience="public",
        )
    )
    await db.commit()

    page = await signed_in.get("/me/accounts/add?network=bluesky", headers=HTML)
    linked = await signed_in.post(
        "/me/accounts/bluesky/sign-in",
        data={
            "csrf_token": csrf_from(page.text),
            "handle": ada.handle,
            "password": await network.create_app_password(ada),
        },
        headers=HTML,
    )
    assert linked.status_code == 303, linked.text
    form = await signed_in.get("/posts/new", headers=HTML)
    (account_id,) = re.findall(r'name="target" value="(\d+)"', form.text)
    created = await signed_in.post(
        "/posts",
        data={
            "csrf_token": csrf_from(form.text),
            "when": "now",
            "text": "Tea at five?",
            "target": account_id,
        },
        headers=HTML,
    )
    assert created.status_code == 303, created.text
    post_url = created.headers["location"]
    worker = job_worker(app.state.settings, sessionmaker, app.state.links, concurrency=1)
    await worker.run_due()
    sent = await signed_in.get(post_url, headers=HTML)
    (uri,) = re.findall(r"https://bsky\.app/profile/[^/]+/post/(\w+)", sent.text)
    post = await network.xrpc(
        f"com.atproto.repo.getRecord?repo={ada.did}&collection=app.bsky.feed.post&rkey={uri}"
    )
    ref = {"uri": post["uri"], "cid": post["cid"]}

    await _write(network, bob, "app.bsky.feed.post", {
        "text": "Yes, at five 🍵", "reply": {"root": ref, "parent": ref},
    })  # fmt: skip
    await _write(network, cat, "app.bsky.feed.like", {"subject": ref})

    # The session's access JWT expires meanwhile: the reads renew it, and keep the new one
    # (Bluesky's refresh JWTs are good for one use).
    linked_account = await db.get(LinkedAccount, int(account_id))
    assert linked_account is not None
    await expire_access(db, app, linked_account, network)
    expired = linked_account.secrets

    deadline = time.monotonic() + 30
    while True:  # the AppView indexes what the PDS writes a moment later
        page = await signed_in.get(post_url, headers=HTML)
        if ("1 reply" in page.text and "1 like" in page.text) or time.monotonic() > deadline:
            break
        await signed_in.post(
            f"{post_url}/answers", data={"csrf_token": csrf_from(page.text)}, headers=HTML
        )
        await worker.run_due()
        await asyncio.sleep(0.3)

    assert "1 reply" in page.text and "1 like" in page.text
    assert "Yes, at five 🍵" in page.text
    assert f'href="/n/{portal_bob.number}"' in page.text  # Bob, by his number
    assert cat.handle in page.text
    assert "Answer on Bluesky" in page.text
    db.expire_all()
    renewed = await db.get(LinkedAccount, int(account_id))
    assert renewed is not None
    assert renewed.status == "verified" and renewed.secrets != expired
