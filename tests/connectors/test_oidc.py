"""The OpenID Connect connector against a real provider, and against keys we hold for the
cases a well-behaved provider never produces."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

import connectors
from connectors.base import (
    AuthRevoked,
    Credentials,
    InvalidHandle,
    OAuthServer,
    PermanentError,
    RateLimited,
    Retriable,
)
from connectors.oidc import (
    InvalidIdToken,
    OpenIDConnect,
    forget_cached_keys,
    validate_id_token,
)
from tests.fixtures.oidc import OIDCProvider, SignIn
from tests.fixtures.peers import free_port


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
async def server(oidc_provider: OIDCProvider, http: httpx.AsyncClient) -> OAuthServer:
    return await OpenIDConnect.oauth_server(oidc_provider.issuer, http)


Validate = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def validate(oidc_provider: OIDCProvider, server: OAuthServer, http: httpx.AsyncClient) -> Validate:
    """Checks an ID token as the portal does after a sign-in at the test provider."""

    def check(id_token: str, nonce: str, **options: Any) -> Awaitable[dict[str, Any]]:
        arguments = {"server": server, "client_id": oidc_provider.client_id, **options}
        return validate_id_token(id_token, nonce=nonce, http=http, **arguments)

    return check


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def payload_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(unb64(token.split(".")[1]))
    return claims


def connector_for(sign_in: SignIn, server: OAuthServer, http: httpx.AsyncClient) -> OpenIDConnect:
    credentials = Credentials(
        access_token=sign_in.access_token,
        refresh_token=sign_in.refresh_token or "",
        extra={"issuer": server.issuer, "userinfo_endpoint": server.userinfo_endpoint},
    )
    handle = f"{payload_of(sign_in.id_token)['sub']}@{server.issuer}"
    return OpenIDConnect(handle, credentials, http)


# -- the connector's description -------------------------------------------------------------


def test_the_connector_is_registered_as_generic_openid_connect() -> None:
    assert connectors.get("oidc") is OpenIDConnect
    assert OpenIDConnect.AUTH == "oidc"
    assert OpenIDConnect.SCOPES == ("openid", "profile", "email")
    assert OpenIDConnect.CAN_VERIFY


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ada@http://127.0.0.1:4000", "ada@http://127.0.0.1:4000"),
        ("  248289761001@https://id.example.com\u200b ", "248289761001@https://id.example.com"),
        (
            "ada@example.org@https://id.example.com/realms/a",
            "ada@example.org@https://id.example.com/realms/a",
        ),
    ],
)
def test_handles_are_sub_at_issuer(raw: str, expected: str) -> None:
    assert OpenIDConnect.normalize_handle(raw) == expected
    assert OpenIDConnect.profile_url(expected) is None


@pytest.mark.parametrize(
    "raw",
    [
        "ada",
        "@https://id.example.com",
        "ada@https://",
        "ada@http://id.example.com",
        "ada@https://id.example.com/?x=1",
        "a da@https://id.example.com",
        "ädä@https://id.example.com",
        "x" * 300 + "@https://id.example.com",
        "ada@javascript:alert(1)",
    ],
)
def test_hostile_handles_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(InvalidHandle) as error:
        OpenIDConnect.normalize_handle(raw)
    assert error.value.message


def test_display_handle_drops_the_scheme() -> None:
    handle = "248289761001@https://id.example.com/"
    assert OpenIDConnect.display_handle(handle) == "248289761001@id.example.com"


# -- discovery -------------------------------------------------------------------------------


async def test_discovery_gives_the_providers_endpoints(
    oidc_provider: OIDCProvider, server: OAuthServer
) -> None:
    issuer = oidc_provider.issuer
    assert server.issuer == issuer
    assert server.authorization_endpoint == f"{issuer}/auth"
    assert server.token_endpoint == oidc_provider.token_endpoint
    assert server.jwks_uri == f"{issuer}/jwks"
    assert server.userinfo_endpoint == f"{issuer}/me"
    assert server.revocation_endpoint == oidc_provider.revocation_endpoint
    assert "openid" in server.scopes_supported


@pytest.mark.parametrize("spelling", ["{host}/", "{localhost}"])
async def test_discovery_refuses_an_issuer_that_is_not_exactly_the_configured_one(
    oidc_provider: OIDCProvider, http: httpx.AsyncClient, spelling: str
) -> None:
    configured = spelling.format(
        host=oidc_provider.issuer, localhost=oidc_provider.issuer.replace("127.0.0.1", "localhost")
    )
    with pytest.raises(PermanentError, match="must be exactly its issuer"):
        await OpenIDConnect.oauth_server(configured, http)


async def test_discovery_where_there_is_no_provider(
    oidc_provider: OIDCProvider, http: httpx.AsyncClient
) -> None:
    with pytest.raises(PermanentError, match=r"HTTP 404"):
        await OpenIDConnect.oauth_server(f"{oidc_provider.issuer}/nobody", http)
    with pytest.raises(Retriable, match="could not be reached"):
        await OpenIDConnect.oauth_server(f"http://127.0.0.1:{free_port()}", http)


@pytest.mark.parametrize(
    ("issuer", "reason"),
    [
        ("http://id.example.com", "https://"),
        ("https://id.example.com?tenant=1", "cannot have"),
        ("https://user:pw@id.example.com", "password"),
        ("https://id.example.com:99999", "cannot be read"),
        ("id.example.com", "https://"),
        ("", "missing"),
    ],
)
async def test_discovery_needs_an_https_issuer(
    http: httpx.AsyncClient, issuer: str, reason: str
) -> None:
    with pytest.raises(PermanentError, match=reason):
        await OpenIDConnect.oauth_server(issuer, http)


def metadata(issuer: str, **overrides: object) -> dict[str, object]:
    document: dict[str, object] = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "response_types_supported": ["code"],
    }
    document.update(overrides)
    return document


@respx.mock
async def test_discovery_refuses_plain_http_endpoints_and_oversized_answers(
    http: httpx.AsyncClient,
) -> None:
    well_known = "https://id.example.com/.well-known/openid-configuration"
    respx.get(well_known).respond(
        json=metadata("https://id.example.com", token_endpoint="http://id.example.com/token")
    )
    with pytest.raises(PermanentError, match="token_endpoint that is not https"):
        await OpenIDConnect.oauth_server("https://id.example.com", http)

    respx.get(well_known).respond(json=metadata("https://id.example.com", jwks_uri=None))
    with pytest.raises(PermanentError, match="no usable jwks_uri"):
        await OpenIDConnect.oauth_server("https://id.example.com", http)

    huge = metadata("https://id.example.com", padding="x" * 300_000)
    respx.get(well_known).respond(json=huge)
    with pytest.raises(PermanentError, match="too large"):
        await OpenIDConnect.oauth_server("https://id.example.com", http)

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b" " * 65536

    respx.get(well_known).mock(return_value=httpx.Response(200, content=endless()))
    with pytest.raises(PermanentError, match="too large"):
        await OpenIDConnect.oauth_server("https://id.example.com", http)

    respx.get(well_known).respond(text="<html>hello</html>")
    with pytest.raises(PermanentError, match="JSON"):
        await OpenIDConnect.oauth_server("https://id.example.com", http)


@respx.mock
async def test_discovery_errors_say_whether_to_retry(http: httpx.AsyncClient) -> None:
    well_known = "https://id.example.com/.well-known/openid-configuration"
    respx.get(well_known).respond(429, headers={"Retry-After": "30"})
    with pytest.raises(RateLimited) as limited:
        await OpenIDConnect.oauth_server("https://id.example.com", http)
    assert limited.value.retry_after == 30

    respx.get(well_known).respond(429, headers={"Retry-After": "99999999999 Jan 2026 0:00 GMT"})
    with pytest.raises(RateLimited) as limited:
        await OpenIDConnect.oauth_server("https://id.example.com", http)
    assert limited.value.retry_after is None

    respx.get(well_known).respond(502)
    with pytest.raises(Retriable, match="HTTP 502"):
        await OpenIDConnect.oauth_server("https://id.example.com", http)

    respx.get(well_known).mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(Retriable, match="too long"):
        await OpenIDConnect.oauth_server("https://id.example.com", http)


# -- ID tokens from the real provider --------------------------------------------------------


async def test_a_valid_id_token_is_accepted(
    oidc_provider: OIDCProvider, http: httpx.AsyncClient, validate: Validate
) -> None:
    sign_in = await oidc_provider.sign_in(http, "ada")

    claims = await validate(sign_in.id_token, sign_in.nonce)

    assert claims["sub"] == "ada"
    assert claims["iss"] == oidc_provider.issuer
    assert claims["nonce"] == sign_in.nonce


async def test_a_token_for_another_application_is_refused(
    oidc_provider: OIDCProvider, http: httpx.AsyncClient, validate: Validate
) -> None:
    theirs = await oidc_provider.sign_in(http, "ada", client_id=oidc_provider.other_client_id)
    assert payload_of(theirs.id_token)["aud"] == oidc_provider.other_client_id

    with pytest.raises(InvalidIdToken, match="meant for another application"):
        await validate(theirs.id_token, theirs.nonce)


async def test_a_wrong_nonce_an_expired_token_and_another_issuer_are_refused(
    oidc_provider: OIDCProvider, server: OAuthServer, http: httpx.AsyncClient, validate: Validate
) -> None:
    sign_in = await oidc_provider.sign_in(http, "ada")
    expires = payload_of(sign_in.id_token)["exp"]

    with pytest.raises(InvalidIdToken, match="does not belong to this sign-in"):
        await validate(sign_in.id_token, "another")
    with pytest.raises(InvalidIdToken, match="does not belong to this sign-in"):
        await validate(sign_in.id_token, "")
    with pytest.raises(InvalidIdToken, match="expired"):
        await validate(sign_in.id_token, sign_in.nonce, now=expires + 61)
    # Within the leeway, a late clock is forgiven.
    await validate(sign_in.id_token, sign_in.nonce, now=expires + 30)
    elsewhere = dataclasses.replace(server, issuer="https://id.example.com")
    with pytest.raises(InvalidIdToken, match="another provider"):
        await validate(sign_in.id_token, sign_in.nonce, server=elsewhere)


async def test_a_tampered_token_is_refused(
    oidc_provider: OIDCProvider, http: httpx.AsyncClient, validate: Validate
) -> None:
    sign_in = await oidc_provider.sign_in(http, "ada")
    header, payload, signature = sign_in.id_token.split(".")
    claims = payload_of(sign_in.id_token) | {"sub": "grace"}
    as_grace = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    flipped = bytearray(unb64(signature))
    flipped[10] ^= 0x01
    bad_signature = f"{header}.{payload}.{b64(bytes(flipped))}"

    for forged in (as_grace, bad_signature):
        with pytest.raises(InvalidIdToken, match="signature does not match"):
            await validate(forged, sign_in.nonce)


async def test_none_and_hmac_with_the_public_key_are_refused(
    oidc_provider: OIDCProvider, http: httpx.AsyncClient, validate: Validate
) -> None:
    sign_in = await oidc_provider.sign_in(http, "ada")
    claims = b64(json.dumps(payload_of(sign_in.id_token)).encode())
    kid = json.loads(unb64(sign_in.id_token.split(".")[0]))["kid"]
    public_jwk = (await http.get(f"{oidc_provider.issuer}/jwks")).json()["keys"][0]
    public_pem = RSAKey.import_key(public_jwk).as_pem(private=False)

    none_header = b64(json.dumps({"alg": "none"}).encode())
    unsigned = f"{none_header}.{claims}."
    hs_header = b64(json.dumps({"alg": "HS256", "kid": kid}).encode())
    mac = hmac.new(public_pem, f"{hs_header}.{claims}".encode(), hashlib.sha256).digest()
    confused = f"{hs_header}.{claims}.{b64(mac)}"

    for forged in (unsigned, confused):
        with pytest.raises(InvalidIdToken, match="not accepted"):
            await validate(forged, sign_in.nonce)


DEEP = base64.urlsafe_b64encode(b'{"alg":"RS256","x":' + b"[" * 4000 + b"]" * 4000 + b"}")


@pytest.mark.parametrize(
    "garbage",
    ["", "abc", "a.b.c", "a.b.c.d.e", "é.é.é", "x" * 20000, f"{DEEP.decode()}.e30.c2ln"],
)
async def test_garbage_is_refused_without_a_crash(
    server: OAuthServer, http: httpx.AsyncClient, garbage: str
) -> None:
    with pytest.raises(InvalidIdToken):
        await validate_id_token(garbage, server=server, client_id="portal", nonce="n", http=http)


# -- ID tokens signed with keys we hold ------------------------------------------------------

ISSUER = "https://id.example.com"
KEYS = f"{ISSUER}/jwks"


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[RSAKey, RSAKey]:
    return (
        RSAKey.generate_key(2048, parameters={"kid": "first", "use": "sig", "alg": "RS256"}),
        RSAKey.generate_key(2048, parameters={"kid": "second", "use": "sig", "alg": "RS256"}),
    )


def jwks(*keys: RSAKey | ECKey) -> dict[str, object]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


def mint(key: RSAKey | ECKey, alg: str, **overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": ISSUER,
        "sub": "248289761001",
        "aud": "portal",
        "exp": now + 300,
        "iat": now,
        "nonce": "n-1",
    }
    claims.update(overrides)
    return jwt.encode({"alg": alg, "kid": str(key.kid)}, claims, key, algorithms=[alg])


SERVER = OAuthServer(
    issuer=ISSUER,
    authorization_endpoint=f"{ISSUER}/authorize",
    token_endpoint=f"{ISSUER}/token",
    jwks_uri=KEYS,
    userinfo_endpoint=f"{ISSUER}/userinfo",
)


async def check(token: str, http: httpx.AsyncClient) -> dict[str, Any]:
    return await validate_id_token(token, server=SERVER, client_id="portal", nonce="n-1", http=http)


@respx.mock
async def test_keys_are_cached_and_fetched_again_for_a_new_kid(
    http: httpx.AsyncClient, rsa_keys: tuple[RSAKey, RSAKey]
) -> None:
    forget_cached_keys()
    first, second = rsa_keys
    route = respx.get(KEYS)
    route.side_effect = [
        httpx.Response(200, json=jwks(first)),
        httpx.Response(200, json=jwks(first, second)),
        httpx.Response(200, json=jwks(first, second)),
    ]

    await check(mint(first, "RS256"), http)
    await check(mint(first, "RS256"), http)
    assert route.call_count == 1, "a cached key set is used again"

    assert (await check(mint(second, "RS256"), http))["sub"] == "248289761001"
    assert route.call_count == 2, "a token with an unknown kid fetches the keys once more"

    stranger = RSAKey.generate_key(2048, parameters={"kid": "stranger"})
    with pytest.raises(InvalidIdToken, match="key the provider does not publish"):
        await check(mint(stranger, "RS256"), http)
    assert route.call_count == 3, "only one more fetch per token"


@respx.mock
async def test_es256_and_ps256_are_accepted(http: httpx.AsyncClient) -> None:
    forget_cached_keys()
    ec = ECKey.generate_key("P-256", parameters={"kid": "ec", "use": "sig"})
    rsa = RSAKey.generate_key(2048, parameters={"kid": "ps"})
    respx.get(KEYS).respond(json=jwks(ec, rsa))

    assert (await check(mint(ec, "ES256"), http))["aud"] == "portal"
    assert (await check(mint(rsa, "PS256"), http))["aud"] == "portal"
    with pytest.raises(InvalidIdToken, match="not accepted"):
        await check(mint(rsa, "RS512"), http)


@respx.mock
async def test_several_audiences_need_us_as_the_authorized_party(
    http: httpx.AsyncClient, rsa_keys: tuple[RSAKey, RSAKey]
) -> None:
    forget_cached_keys()
    key = rsa_keys[0]
    respx.get(KEYS).respond(json=jwks(key))
    both = ["portal", "other-client"]

    assert (await check(mint(key, "RS256", aud=both, azp="portal"), http))["azp"] == "portal"
    for claims in ({"aud": both}, {"aud": both, "azp": "other-client"}, {"azp": "other-client"}):
        with pytest.raises(InvalidIdToken, match="another application"):
            await check(mint(key, "RS256", **claims), http)


@respx.mock
async def test_missing_or_odd_claims_are_refused(
    http: httpx.AsyncClient, rsa_keys: tuple[RSAKey, RSAKey]
) -> None:
    forget_cached_keys()
    key = rsa_keys[0]
    respx.get(KEYS).respond(json=jwks(key))
    now = int(time.time())
    cases: list[tuple[dict[str, object], str]] = [
        ({"iat": now + 3600, "exp": now + 7200}, "dated in the future"),
        ({"iat": now + 30, "exp": now + 10}, "expires before it was issued"),
        ({"exp": "tomorrow"}, "no valid “exp”"),
        ({"iat": None}, "no valid “iat”"),
        ({"sub": ""}, "who signed in"),
        ({"aud": 42}, "which application"),
        ({"nbf": now + 3600}, "not valid yet"),
        ({"nonce": None}, "does not belong"),
    ]
    for overrides, reason in cases:
        with pytest.raises(InvalidIdToken, match=reason):
            await check(mint(key, "RS256", **overrides), http)


# -- the account: UserInfo and revocation ----------------------------------------------------


async def test_get_actor_maps_the_userinfo_claims(
    oidc_provider: OIDCProvider, server: OAuthServer, http: httpx.AsyncClient
) -> None:
    sign_in = await oidc_provider.sign_in(http, "ada")
    connector = connector_for(sign_in, server, http)

    actor = await connector.get_actor()

    issuer = oidc_provider.issuer
    assert actor.network == "oidc"
    assert actor.handle == actor.id == f"ada@{issuer}"
    assert actor.display_name == "Ada Lovelace"
    assert actor.avatar_url == f"{issuer}/pictures/ada.png"
    assert actor.url == f"{issuer}/people/ada"
    assert (await connector.get_userinfo())["email"] == "ada@example.test"


async def test_userinfo_for_another_account_is_refused(
    oidc_provider: OIDCProvider, server: OAuthServer, http: httpx.AsyncClient
) -> None:
    sign_in = await oidc_provider.sign_in(http, "ada")
    ada = connector_for(sign_in, server, http)
    as_grace = OpenIDConnect(f"grace@{server.issuer}", ada.credentials, http)

    with pytest.raises(PermanentError, match="another account"):
        await as_grace.get_actor()


@respx.mock
async def test_userinfo_errors_say_what_to_do(http: httpx.AsyncClient) -> None:
    credentials = Credentials(
        access_token="t",
        extra={"issuer": ISSUER, "userinfo_endpoint": f"{ISSUER}/userinfo"},
    )
    connector = OpenIDConnect(f"248289761001@{ISSUER}", credentials, http)
    route = respx.get(f"{ISSUER}/userinfo")

    route.respond(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    with pytest.raises(AuthRevoked):
        await connector.get_actor()
    route.respond(429, headers={"Retry-After": "7"})
    with pytest.raises(RateLimited) as limited:
        await connector.get_actor()
    assert limited.value.retry_after == 7
    route.respond(503)
    with pytest.raises(Retriable):
        await connector.get_actor()
    route.respond(403)
    with pytest.raises(PermanentError, match="HTTP 403"):
        await connector.get_actor()
    route.respond(
        json={"sub": "248289761001", "picture": "javascript:alert(1)", "name": "A\u0000B"}
    )
    actor = await connector.get_actor()
    assert actor.avatar_url is None
    assert actor.display_name == "AB"
    assert route.calls.last.request.headers["authorization"] == "Bearer t"
