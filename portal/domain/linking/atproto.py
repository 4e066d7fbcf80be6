"""AT Protocol OAuth in the portal's link flow: what differs from plain OAuth 2.

The flow itself is :mod:`portal.domain.linking.oauth`'s; for Bluesky it starts from the account (its
handle or DID, not a server), pushes the request to the authorization server the account's
PDS names, binds the tokens to a DPoP key kept (encrypted) with the attempt and then with the
account, and checks that the token answer is for the account the link started from.
The protocol pieces are in :mod:`connectors.atproto`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from connectors import base
from connectors.atproto import SCOPE, DPoP, authorization_server, push_authorization_request
from portal.domain.linking.services import LinkServices, connector_errors
from portal.errors import InvalidInput


async def push(
    services: LinkServices,
    cls: type[base.Connector],
    identifier: str,
    state: str,
    verifier: str,
) -> tuple[str, dict[str, Any]]:
    """Find the account's authorization server and push the request there (AT Protocol
    OAuth); the URL to send the person to, and what the callback needs kept."""
    ours = client(services)
    dpop = DPoP()
    async with services.http() as http:
        with connector_errors(cls.LABEL, field="server"):
            identity = await services.context.resolver.resolve(identifier, http)
            server = await authorization_server(identity.pds, http)
            request_uri = await push_authorization_request(
                http,
                dpop,
                server,
                {
                    "client_id": ours.client_id,
                    "response_type": "code",
                    "redirect_uri": ours.redirect_uri,
                    "scope": SCOPE,
                    "state": state,
                    "code_challenge": create_s256_code_challenge(verifier),
                    "code_challenge_method": "S256",
                    "login_hint": identity.handle or identity.did,
                },
            )
    url = add_params_to_uri(
        server.authorization_endpoint,
        [("client_id", ours.client_id), ("request_uri", request_uri)],
    )
    kept = {
        "verifier": verifier,
        "metadata": asdict(server),
        "did": identity.did,
        "pds": identity.pds,
        "dpop": dpop.state(),
    }
    return url, kept


def client(services: LinkServices) -> base.OAuthClient:
    client = services.atproto_client()
    if client is None:
        raise InvalidInput(
            "Signing in with Bluesky needs this portal on https (or on 127.0.0.1 while it is "
            "being developed). Link the account with an app password instead."
        )
    return client


def subject(payload: Mapping[str, Any], did: str, label: str) -> str:
    """The account an AT Protocol token answer is for: it must be the one the link started
    from, with tokens bound to our DPoP key and the ``atproto`` scope."""
    if str(payload.get("token_type", "")).lower() != "dpop":
        raise base.PermanentError(f"{label} did not bind the access to this portal's key.")
    if payload.get("sub") != did:
        raise base.PermanentError(f"{label} signed in another account than the one you named.")
    if "atproto" not in str(payload.get("scope", "")).split():
        raise base.PermanentError(f"{label} did not grant access to the account.")
    return did
