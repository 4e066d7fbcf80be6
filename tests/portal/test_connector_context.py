"""Each app hands its connectors its own rules: two portals in one process, made from different
settings, never see each other's address rules, XMPP route or AT Protocol resolver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.xmpp import Server
from portal.app import create_app
from tests.fixtures.app import api_sign_up, api_token, make_settings
from tests.fixtures.matrix import MatrixHomeserver


@asynccontextmanager
async def _portal(
    sessionmaker: async_sessionmaker[AsyncSession], email: str, **settings: object
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A portal made from ``settings``, and an API client acting for one person signed up."""
    app = create_app(make_settings(**settings))
    app.state.sessionmaker = sessionmaker
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://portal.test") as client:
            await api_sign_up(client, email=email)
            token = await api_token(client, email=email)
            client.headers["authorization"] = f"Bearer {token}"
            yield app, client
    finally:
        app.state.images.close()
        await app.state.limiter.close()
        await app.state.engine.dispose()


async def _link(
    portal: httpx.AsyncClient, network: str, handle: str, password: str | None = None
) -> httpx.Response:
    body = {"network": network, "handle": handle}
    if password is not None:
        body["password"] = password
    return await portal.post("/api/v1/me/accounts", json=body)


async def test_two_portals_in_one_process_keep_their_own_connector_rules(
    sessionmaker: async_sessionmaker[AsyncSession], matrix_homeserver: MatrixHomeserver
) -> None:
    development = _portal(
        sessionmaker,
        "dev@example.org",
        connectors_allow_loopback=True,
        xmpp_server="127.0.0.1:5299",
        xmpp_ca_file="/etc/portal/xmpp-ca.pem",
        atproto_resolver_url="https://resolver.one.example",
    )
    public = _portal(
        sessionmaker, "pub@example.org", atproto_resolver_url="https://resolver.two.example"
    )
    async with (
        httpx.AsyncClient() as http,
        development as (dev_app, dev),
        public as (pub_app, pub),
    ):
        # Made second, the public portal changed nothing of the development one, and back.
        ada = await matrix_homeserver.register(http)
        grace = await matrix_homeserver.register(http)
        linked = await _link(dev, "matrix", ada.user_id, ada.password)
        refused = await _link(pub, "matrix", grace.user_id, grace.password)
        linked_again = await _link(dev, "matrix", grace.user_id, grace.password)

        assert linked.status_code == linked_again.status_code == 201, linked.text
        assert (linked.json()["handle"], linked.json()["status"]) == (ada.user_id, "verified")
        assert refused.status_code == 502
        assert refused.json()["detail"] == (
            "Matrix did not answer as expected (Portal could not reach 127.0.0.1 to find its "
            "Matrix server.). Try again in a moment."
        )

        # A handle on a server of this machine is read only by the development portal.
        shown = await _link(dev, "mastodon", "@ada@localhost:3000")
        not_shown = await _link(pub, "mastodon", "@ada@localhost:3000")
        assert shown.status_code == 201, shown.text
        assert not_shown.status_code == 422
        assert "without a port" in not_shown.json()["detail"]

        dev_context, pub_context = dev_app.state.links.context, pub_app.state.links.context
    assert dev_context.xmpp_server == Server("127.0.0.1", 5299, ca_file="/etc/portal/xmpp-ca.pem")
    assert pub_context.xmpp_server is None
    assert dev_context.resolver.service_url == "https://resolver.one.example"
    assert pub_context.resolver.service_url == "https://resolver.two.example"
