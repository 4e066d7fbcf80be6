"""OpenID Connect: prove an account at any provider the portal is set up to trust.

Why it looks like this:

- Providers are configured by the portal, never by this module: everything here takes the
  issuer (and the client) as arguments, and a linked account carries what it needs in its
  credentials. An account is ``"<sub>@<issuer>"``: ``sub`` is only unique and stable within
  one issuer (Core §2, "sub"), so the pair is the identity, never the e-mail or the username.
- Endpoints come from OpenID Connect Discovery, and the ``issuer`` the provider names must be
  exactly the one configured (Discovery §4.3), or a provider could speak for another one.
  https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
- The ID token is checked as Core §3.1.3.7 says: signature with the provider's published keys,
  ``iss``, ``aud`` (and ``azp`` with several audiences), ``exp``, ``iat`` and the ``nonce``
  of this sign-in. Only asymmetric algorithms are accepted (RS256, ES256, PS256): never
  ``none``, never an HMAC keyed with a public key (RFC 8725 §2.1, §3.1).
  https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
  https://www.rfc-editor.org/rfc/rfc8725
- Who the account is comes from the UserInfo endpoint, whose ``sub`` must be the linked one
  (Core §5.3.2): https://openid.net/specs/openid-connect-core-1_0.html#UserInfo
- JOSE is done by joserfc, the JOSE library of the Authlib project (``authlib.jose`` is
  deprecated in its favour): https://jose.authlib.org/

What this module reads of a linked account's :attr:`~connectors.base.Credentials.extra`
(the portal's OAuth flow writes it, with the rest of the provider's endpoints)::

    {
        "issuer": "https://id.example.com",           # as configured, exactly
        "userinfo_endpoint": "https://…/userinfo",     # absent when the provider has none
    }

Exchanging codes, refreshing and revoking tokens (RFC 7009) are the portal's OAuth flow, the
same for every OAuth network; this module only says who an account is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlsplit

import httpx

from connectors._oidc import (
    ALGORITHMS,
    MAX_SUB_LENGTH,
    PROVIDER,
    InvalidIdToken,
    check_sub,
    forget_cached_keys,
    get_json,
    is_loopback_http,
    validate_id_token,
)
from connectors.base import (
    PUBLIC,
    Actor,
    AuthRevoked,
    Connector,
    Context,
    InvalidHandle,
    OAuthServer,
    PermanentError,
    clean,
)

__all__ = [
    "ALGORITHMS",
    "InvalidIdToken",
    "OpenIDConnect",
    "actor_from_claims",
    "check_issuer",
    "forget_cached_keys",
    "handle_for",
    "split_handle",
    "validate_id_token",
]


# -- handles ---------------------------------------------------------------------------------


def check_issuer(issuer: str) -> str:
    """``issuer`` unchanged when it can be one (https, a host, no query or fragment)."""
    if not isinstance(issuer, str) or not issuer or len(issuer) > 2048:
        raise PermanentError("The sign-in provider's address is missing or too long.")
    try:
        parts = urlsplit(issuer)
        parts.port  # noqa: B018 - an out-of-range port raises here
    except ValueError as error:
        raise PermanentError(f"The sign-in provider's address cannot be read: {issuer}") from error
    if parts.scheme != "https" and not is_loopback_http(parts):
        raise PermanentError(f"The sign-in provider's address must start with https://: {issuer}")
    if not parts.hostname:
        raise PermanentError(f"The sign-in provider's address needs a host name: {issuer}")
    if parts.username is not None or parts.password is not None:
        raise PermanentError(f"The sign-in provider's address cannot hold a password: {issuer}")
    if parts.query or parts.fragment or "?" in issuer or "#" in issuer:
        raise PermanentError(f"The sign-in provider's address cannot have ? or #: {issuer}")
    if any(char.isspace() or ord(char) < 0x21 for char in issuer):
        raise PermanentError(f"The sign-in provider's address cannot have spaces: {issuer}")
    return issuer


def handle_for(sub: str, issuer: str) -> str:
    """The handle of the account ``sub`` at ``issuer``: ``"<sub>@<issuer>"``."""
    return f"{check_sub(sub)}@{issuer}"


def split_handle(handle: str) -> tuple[str, str]:
    """``(sub, issuer)`` of a handle made by :func:`handle_for`."""
    cut = max(handle.rfind("@https://"), handle.rfind("@http://"))
    if cut <= 0:
        raise InvalidHandle(
            "Write the account as <id>@<provider address>, such as 12345@https://id.example.com."
        )
    sub, issuer = handle[:cut], handle[cut + 1 :]
    try:
        check_issuer(issuer)
    except PermanentError as error:
        raise InvalidHandle(error.message) from error
    return check_sub(sub), issuer


# -- discovery -------------------------------------------------------------------------------


def _endpoint(metadata: Mapping[str, Any], name: str, *, issuer: str, required: bool) -> str | None:
    value = metadata.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 2048:
        raise PermanentError(f"{PROVIDER} at {issuer} gives no usable {name}.")
    try:
        parts = urlsplit(value)
    except ValueError as error:
        raise PermanentError(
            f"{PROVIDER} at {issuer} gives a {name} that cannot be read."
        ) from error
    loopback_allowed = is_loopback_http(urlsplit(issuer))
    if not parts.hostname or not (
        parts.scheme == "https" or (loopback_allowed and is_loopback_http(parts))
    ):
        raise PermanentError(f"{PROVIDER} at {issuer} gives a {name} that is not https://.")
    return value


# -- people ----------------------------------------------------------------------------------


def _text(value: object, limit: int = 200) -> str:
    if not isinstance(value, str):
        return ""
    printable = "".join(char for char in value if char.isprintable())
    return " ".join(printable.split())[:limit]


def _web_url(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > 2048:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.hostname and (parts.scheme == "https" or is_loopback_http(parts)):
        return value
    return None


def actor_from_claims(claims: Mapping[str, Any], *, issuer: str) -> Actor:
    """A person from their OpenID Connect claims (UserInfo or ID token)."""
    handle = handle_for(check_sub(claims.get("sub")), issuer)
    full_name = " ".join(
        part for part in (_text(claims.get("given_name")), _text(claims.get("family_name"))) if part
    )
    display_name = (
        _text(claims.get("name"))
        or full_name
        or _text(claims.get("preferred_username"))
        or _text(claims.get("nickname"))
        or _text(claims.get("email"))
    )
    return Actor(
        network=OpenIDConnect.NAME,
        id=handle,
        handle=handle,
        display_name=display_name,
        url=_web_url(claims.get("profile")),
        avatar_url=_web_url(claims.get("picture")),
    )


# -- the connector ---------------------------------------------------------------------------


class OpenIDConnect(Connector):
    """Any OpenID Connect provider; which ones is the portal's configuration."""

    NAME = "oidc"
    LABEL = "OpenID Connect"
    AUTH = "oidc"
    SCOPES = ("openid", "profile", "email")
    HANDLE_LABEL = "Account"
    HANDLE_EXAMPLE = "248289761001@https://id.example.com"
    CAN_VERIFY = True

    @classmethod
    def normalize_handle(cls, raw: str, *, context: Context = PUBLIC) -> str:
        sub, issuer = split_handle(clean(raw, max_length=MAX_SUB_LENGTH + 1 + 2048))
        return f"{sub}@{issuer}"

    @classmethod
    def display_handle(cls, handle: str) -> str:
        """``<sub>@<host>``: the provider's address without its scheme."""
        try:
            sub, issuer = split_handle(handle)
        except InvalidHandle:
            return handle
        return f"{sub}@{issuer.split('://', 1)[1].rstrip('/')}"

    @classmethod
    async def oauth_server(
        cls, server: str, http: httpx.AsyncClient, *, context: Context = PUBLIC
    ) -> OAuthServer:
        """The endpoints of the provider whose issuer is ``server`` (Discovery §4)."""
        issuer = check_issuer(server)
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        metadata = await get_json(http, url, what=f"{PROVIDER} at {issuer}")
        if metadata.get("issuer") != issuer:
            raise PermanentError(
                f"{PROVIDER} at {issuer} calls itself {_text(metadata.get('issuer'))!r}: "
                "the configured address must be exactly its issuer."
            )
        response_types = metadata.get("response_types_supported")
        if isinstance(response_types, list) and "code" not in response_types:
            raise PermanentError(f"{PROVIDER} at {issuer} does not offer the code flow.")
        scopes = metadata.get("scopes_supported")

        def endpoint(name: str, *, required: bool = False) -> str | None:
            return _endpoint(metadata, name, issuer=issuer, required=required)

        return OAuthServer(
            issuer=issuer,
            authorization_endpoint=cast(str, endpoint("authorization_endpoint", required=True)),
            token_endpoint=cast(str, endpoint("token_endpoint", required=True)),
            jwks_uri=endpoint("jwks_uri", required=True),
            userinfo_endpoint=endpoint("userinfo_endpoint"),
            revocation_endpoint=endpoint("revocation_endpoint"),
            pushed_authorization_request_endpoint=endpoint("pushed_authorization_request_endpoint"),
            scopes_supported=tuple(
                scope
                for scope in (scopes if isinstance(scopes, list) else [])
                if isinstance(scope, str)
            ),
        )

    def _issuer(self) -> str:
        issuer = self.credentials.extra.get("issuer")
        if self.handle:
            _, from_handle = split_handle(self.handle)
            if issuer is not None and issuer != from_handle:
                raise PermanentError("The account's credentials belong to another provider.")
            return from_handle
        if not isinstance(issuer, str):
            raise PermanentError(
                "The account's credentials do not say which provider they are for."
            )
        return check_issuer(issuer)

    async def get_userinfo(self) -> dict[str, Any]:
        """The claims the provider's UserInfo endpoint gives for the access token."""
        endpoint = self.credentials.extra.get("userinfo_endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise PermanentError(f"{PROVIDER} has no UserInfo endpoint to ask who this is.")
        if not self.credentials.access_token:
            raise AuthRevoked("This account has no sign-in to use: connect the account again.")
        # A signed answer (application/jwt) is not a JSON object, so it is refused.
        claims = await get_json(
            self.http, endpoint, what=PROVIDER, token=self.credentials.access_token
        )
        if self.handle:
            expected, _ = split_handle(self.handle)
            if claims.get("sub") != expected:
                raise PermanentError(f"{PROVIDER} answered for another account than this one.")
        return claims

    async def get_actor(self) -> Actor:
        issuer = self._issuer()
        claims = await self.get_userinfo()
        try:
            return actor_from_claims(claims, issuer=issuer)
        except InvalidHandle as error:
            raise PermanentError(f"{PROVIDER} did not say who this account is.") from error
