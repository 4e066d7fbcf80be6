"""AT Protocol OAuth's pieces: DPoP proofs and nonces, server discovery, pushed requests.

The whole flow runs against a real PDS in tests/portal/web/test_link_bluesky_oauth.py; here
are the refusals a real server would not produce on demand.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import ECKey

from connectors.atproto import (
    DPoP,
    authorization_server,
    client_id_for,
    push_authorization_request,
    xrpc,
)
from connectors.base import OAuthServer, PermanentError, Retriable

PDS = "https://pds.example"
ISSUER = "https://auth.example"


def _metadata(**changes: Any) -> dict[str, Any]:
    """An authorization server's metadata in the shape the AT Protocol profile asks for."""
    metadata: dict[str, Any] = {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/oauth/authorize",
        "token_endpoint": f"{ISSUER}/oauth/token",
        "revocation_endpoint": f"{ISSUER}/oauth/revoke",
        "pushed_authorization_request_endpoint": f"{ISSUER}/oauth/par",
        "require_pushed_authorization_requests": True,
        "authorization_response_iss_parameter_supported": True,
        "client_id_metadata_document_supported": True,
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": ["ES256"],
        "scopes_supported": ["atproto", "transition:generic"],
        "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
    }
    metadata.update(changes)
    return {k: v for k, v in metadata.items() if v is not None}


def _serve(metadata: dict[str, Any], servers: list[str] | None = None) -> None:
    respx.get(f"{PDS}/.well-known/oauth-protected-resource").respond(
        json={"resource": PDS, "authorization_servers": servers or [ISSUER]}
    )
    respx.get(f"{ISSUER}/.well-known/oauth-authorization-server").respond(json=metadata)


def _claims(proof: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The proof's header and claims, its signature checked with the key it names."""
    header = json.loads(base64.urlsafe_b64decode(proof.split(".")[0] + "=="))
    token = jwt.decode(proof, ECKey.import_key(header["jwk"]))
    return dict(token.header), dict(token.claims)


def test_a_proof_names_the_request_and_is_signed_by_the_public_key_it_carries():
    dpop = DPoP()
    header, claims = _claims(
        dpop.proof("post", "https://pds.example/xrpc/x?limit=1#f", access_token="tok")
    )
    assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256"
    assert "d" not in header["jwk"]
    assert claims["htm"] == "POST" and claims["htu"] == "https://pds.example/xrpc/x"
    digest = hashlib.sha256(b"tok").digest()
    assert claims["ath"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert "nonce" not in claims
    other = _claims(dpop.proof("GET", "https://pds.example/"))[1]
    assert other["jti"] != claims["jti"] and "ath" not in other


def test_the_key_and_nonces_survive_being_kept():
    dpop = DPoP()
    dpop.nonces["https://pds.example"] = "n1"
    again = DPoP(json.loads(json.dumps(dpop.state())))
    assert again.public_jwk == dpop.public_jwk
    assert _claims(again.proof("GET", "https://pds.example/a"))[1]["nonce"] == "n1"
    with pytest.raises(PermanentError):
        DPoP({"jwk": {"kty": "EC"}})


@respx.mock
async def test_the_servers_nonce_is_used_once_asked_for():
    route = respx.post(f"{ISSUER}/oauth/token").mock(
        side_effect=[
            httpx.Response(400, json={"error": "use_dpop_nonce"}, headers={"DPoP-Nonce": "n1"}),
            httpx.Response(200, json={"ok": True}, headers={"DPoP-Nonce": "n2"}),
        ]
    )
    dpop = DPoP()
    async with httpx.AsyncClient() as http:
        response = await dpop.request(http, "POST", f"{ISSUER}/oauth/token", data={"a": "b"})
    assert response.status_code == 200
    first, second = (_claims(call.request.headers["dpop"])[1] for call in route.calls)
    assert "nonce" not in first and second["nonce"] == "n1"
    assert dpop.nonces == {ISSUER: "n2"}  # the newest is kept for the next request


@respx.mock
async def test_a_resource_servers_nonce_challenge_is_answered_once():
    challenge = 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce"'
    route = respx.get(f"{PDS}/xrpc/a").mock(
        side_effect=[
            httpx.Response(401, headers={"WWW-Authenticate": challenge, "DPoP-Nonce": "r1"}),
            httpx.Response(401, headers={"WWW-Authenticate": challenge, "DPoP-Nonce": "r2"}),
        ]
    )
    async with httpx.AsyncClient() as http:
        response = await DPoP().request(http, "GET", f"{PDS}/xrpc/a", access_token="t")
    assert response.status_code == 401 and route.call_count == 2  # no endless loop
    assert route.calls[1].request.headers["authorization"] == "DPoP t"


@respx.mock
async def test_a_hostile_nonce_is_not_kept():
    respx.get(f"{PDS}/a").respond(200, headers={"DPoP-Nonce": "x" * 500})
    dpop = DPoP()
    async with httpx.AsyncClient() as http:
        await dpop.request(http, "GET", f"{PDS}/a")
    assert dpop.nonces == {}


@respx.mock
async def test_the_authorization_server_is_found_from_the_pds():
    _serve(_metadata())
    async with httpx.AsyncClient() as http:
        server = await authorization_server(PDS, http)
    assert server.issuer == ISSUER
    assert server.pushed_authorization_request_endpoint == f"{ISSUER}/oauth/par"
    assert "atproto" in server.scopes_supported


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (_metadata(issuer="https://other.example"), "describes another server"),
        (_metadata(require_pushed_authorization_requests=False), "require_pushed"),
        (_metadata(dpop_signing_alg_values_supported=["RS256"]), "ES256"),
        (_metadata(code_challenge_methods_supported=["plain"]), "S256"),
        (_metadata(scopes_supported=["openid"]), "atproto"),
        (_metadata(token_endpoint_auth_methods_supported=["private_key_jwt"]), "none"),
        (_metadata(token_endpoint="https://elsewhere.example/token"), "token_endpoint"),
        (_metadata(pushed_authorization_request_endpoint=None), "pushed_authorization"),
        (["not", "an", "object"], "JSON object"),
    ],
)
@respx.mock
async def test_a_server_off_the_profile_is_refused(metadata, message):
    _serve(metadata)
    async with httpx.AsyncClient() as http:
        with pytest.raises(PermanentError, match=message):
            await authorization_server(PDS, http)


@pytest.mark.parametrize(
    "servers", [["ftp://auth.example"], ["https://auth.example/path"], [42], []]
)
@respx.mock
async def test_a_pds_naming_no_usable_server_is_refused(servers):
    respx.get(f"{PDS}/.well-known/oauth-protected-resource").respond(
        json={"authorization_servers": servers}
    )
    async with httpx.AsyncClient() as http:
        with pytest.raises(PermanentError):
            await authorization_server(PDS, http)


@respx.mock
async def test_a_pds_without_oauth_or_down_says_so():
    respx.get(f"{PDS}/.well-known/oauth-protected-resource").respond(404)
    async with httpx.AsyncClient() as http:
        with pytest.raises(PermanentError, match="does not offer AT Protocol OAuth"):
            await authorization_server(PDS, http)
    respx.get(f"{PDS}/.well-known/oauth-protected-resource").respond(503)
    async with httpx.AsyncClient() as http:
        with pytest.raises(Retriable):
            await authorization_server(PDS, http)


SERVER = OAuthServer(
    issuer=ISSUER,
    authorization_endpoint=f"{ISSUER}/oauth/authorize",
    token_endpoint=f"{ISSUER}/oauth/token",
    pushed_authorization_request_endpoint=f"{ISSUER}/oauth/par",
)


@respx.mock
async def test_a_pushed_request_gives_its_reference():
    route = respx.post(f"{ISSUER}/oauth/par").respond(
        201, json={"request_uri": "urn:ietf:params:oauth:request_uri:abc", "expires_in": 299}
    )
    async with httpx.AsyncClient() as http:
        uri = await push_authorization_request(http, DPoP(), SERVER, {"state": "s"})
    assert uri == "urn:ietf:params:oauth:request_uri:abc"
    assert "dpop" in route.calls[0].request.headers


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(400, json={"error": "invalid_request", "error_description": "bad"}), "bad"),
        (httpx.Response(201, json={"request_uri": "https://x"}), "invalid request URI"),
        (httpx.Response(201, text="<html>"), "refused"),
    ],
)
@respx.mock
async def test_a_refused_push_says_why(response, message):
    respx.post(f"{ISSUER}/oauth/par").mock(return_value=response)
    async with httpx.AsyncClient() as http:
        with pytest.raises(PermanentError, match=message):
            await push_authorization_request(http, DPoP(), SERVER, {})


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://portal.example", "https://portal.example/oauth/bluesky/client-metadata.json"),
        ("http://127.0.0.1:8000", "http://localhost?redirect_uri="),
        ("http://[::1]:8000", "http://localhost?redirect_uri="),
        ("http://localhost:8000", None),
        ("http://portal.lan", None),
    ],
)
def test_the_client_id_follows_the_portals_address(base_url, expected):
    found = client_id_for(base_url, f"{base_url}/me/accounts/bluesky/callback")
    if expected is None:
        assert found is None
    else:
        assert found is not None and found.startswith(expected)


@respx.mock
async def test_an_endless_answer_is_not_read_whole():
    """A PDS the person names may be hostile: its answers are read up to a limit."""
    respx.get(f"{PDS}/.well-known/oauth-protected-resource").respond(
        json={"authorization_servers": [ISSUER], "padding": "x" * 100_000}
    )
    respx.post(f"{PDS}/xrpc/huge").respond(200, content=b"[" + b"1," * 600_000 + b"1]")
    async with httpx.AsyncClient() as http:
        with pytest.raises(PermanentError, match="too large"):
            await authorization_server(PDS, http)
        with pytest.raises(PermanentError, match="too large"):
            await DPoP().request(http, "POST", f"{PDS}/xrpc/huge", json={})
        with pytest.raises(PermanentError, match="too large"):
            await xrpc(http, PDS, "huge", body={})
