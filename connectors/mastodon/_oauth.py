"""Portal as an OAuth client of a Mastodon instance: finding its endpoints, registering there.

Why it looks like this (https://docs.joinmastodon.org/spec/oauth/):

- The endpoints come from RFC 8414 metadata, ``/.well-known/oauth-authorization-server``,
  served since Mastodon 4.3; a 404 means an older Mastodon or another server of the Mastodon
  API (GoToSocial, Pleroma, Akkoma, Takahē …), which have the fixed ``/oauth/authorize``,
  ``/oauth/token`` and ``/oauth/revoke`` (https://docs.joinmastodon.org/methods/oauth/) and
  list no scopes, so they are asked for the classic ones. Endpoints on another host are
  refused.
- Every instance is its own authorization server, so Portal registers itself as a client of
  each instance (``POST /api/v1/apps``, https://docs.joinmastodon.org/methods/apps/#create),
  with the one exact redirect URI and the scopes it will ask for: an authorization request
  may ask only for scopes the app was registered with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors import base
from connectors.base import OAuthClient, OAuthServer, PermanentError
from connectors.mastodon._api import UNEXPECTED, call, check, text_of


def same_server(url: Any, instance: str) -> str:
    """``url`` when it is an address on ``instance`` itself, else :class:`PermanentError`."""
    expected = urlsplit(base.server_url(instance))
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
    except ValueError:
        parts = None
    if parts is None or (parts.scheme, parts.netloc.lower()) != (expected.scheme, instance):
        raise PermanentError(f"{instance} names authorization addresses on another server.")
    return str(url)


async def discover(instance: str, http: httpx.AsyncClient) -> OAuthServer:
    """The endpoints of ``instance`` (a normalised server name) and the scopes it offers.

    A server before 4.3 has no metadata; its :class:`OAuthServer` lists no scopes.
    """
    root = base.server_url(instance)
    answer = await call(
        http, "GET", f"{root}/.well-known/oauth-authorization-server", where=instance
    )
    if answer.status == 404:  # Mastodon before 4.3: the fixed paths
        return OAuthServer(
            issuer=root + "/",
            authorization_endpoint=f"{root}/oauth/authorize",
            token_endpoint=f"{root}/oauth/token",
            revocation_endpoint=f"{root}/oauth/revoke",
        )
    metadata = check(answer, instance).json(instance)
    if not isinstance(metadata, Mapping):
        raise PermanentError(f"{instance} {UNEXPECTED}.")
    scopes = metadata.get("scopes_supported")
    supported = tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else ()
    optional = {
        key: same_server(metadata[key], instance) if metadata.get(key) else None
        for key in ("revocation_endpoint", "userinfo_endpoint")
    }
    return OAuthServer(
        issuer=same_server(metadata.get("issuer"), instance),
        authorization_endpoint=same_server(metadata.get("authorization_endpoint"), instance),
        token_endpoint=same_server(metadata.get("token_endpoint"), instance),
        revocation_endpoint=optional["revocation_endpoint"],
        userinfo_endpoint=optional["userinfo_endpoint"],
        scopes_supported=supported,
    )


async def register(
    instance: str, redirect_uri: str, scopes: Sequence[str], http: httpx.AsyncClient
) -> OAuthClient:
    """Portal registered on ``instance`` with exactly ``redirect_uri`` and ``scopes``."""
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise PermanentError("Portal's address for coming back is not an absolute web address.")
    if not scopes:
        raise PermanentError("Portal has no access to ask this server for.")
    answer = await call(
        http,
        "POST",
        f"{base.server_url(instance)}/api/v1/apps",
        where=instance,
        data={
            "client_name": "Portal",
            "redirect_uris": redirect_uri,
            "scopes": " ".join(scopes),
            "website": f"{parts.scheme}://{parts.netloc}",
        },
    )
    try:
        app = check(answer, instance).json(instance)
    except PermanentError as error:
        if answer.status == 422 and "scope" in error.message.lower():
            raise PermanentError(
                f"{error.message.rstrip('.')}. This server does not offer the access Portal "
                f"asks for ({', '.join(scopes)})."
            ) from error
        raise
    if not isinstance(app, Mapping):
        raise PermanentError(f"{instance} {UNEXPECTED}.")
    client_id, secret = text_of(app.get("client_id")), text_of(app.get("client_secret"))
    if not client_id or not secret or len(client_id) + len(secret) > 1000:
        raise PermanentError(f"{instance} registered Portal without a client id or secret.")
    registered = app.get("redirect_uris")
    if not isinstance(registered, list):
        registered = text_of(app.get("redirect_uri")).split("\n")
    if redirect_uri not in registered:
        raise PermanentError(f"{instance} registered Portal with another return address.")
    return OAuthClient(client_id=client_id, client_secret=secret, redirect_uri=redirect_uri)
