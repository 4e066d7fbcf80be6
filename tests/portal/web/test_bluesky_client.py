"""Which AT Protocol OAuth client the portal is, by its address (no network needed)."""

from __future__ import annotations

import pytest

from portal.config import Settings
from tests.fixtures.app import HTML, make_settings, start_link


class TestOnPlainHttp:
    @pytest.fixture
    def settings(self) -> Settings:
        return make_settings(base_url="http://portal.lan")

    async def test_away_from_https_and_loopback_only_app_passwords_are_offered(self, signed_in):
        """On plain http away from loopback the network accepts no client: the add page offers
        the app password alone, and starting OAuth says why it cannot."""
        page = await signed_in.get("/me/accounts/add?network=bluesky", headers=HTML)
        assert 'action="/me/accounts/bluesky/authorize"' not in page.text
        assert 'action="/me/accounts/bluesky/sign-in"' in page.text
        response = await start_link(signed_in, "bluesky", "ada.test")
        assert response.status_code == 422
        assert "needs this portal on https" in response.text


async def test_the_client_metadata_document_is_served_on_https(client):
    """A portal on https names its metadata document as client id and serves it."""
    response = await client.get("/oauth/bluesky/client-metadata.json")
    assert response.status_code == 200
    document = response.json()
    assert document["client_id"] == "https://portal.test/oauth/bluesky/client-metadata.json"
    assert document["redirect_uris"] == ["https://portal.test/me/accounts/bluesky/callback"]
    assert document["dpop_bound_access_tokens"] is True
    assert document["token_endpoint_auth_method"] == "none"
    assert "atproto" in document["scope"].split()
