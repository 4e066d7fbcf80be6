"""One strategy per way of proving an account, chosen once from the connector's ``AUTH``.

What differs between the ways is a method here; the steps they share (the flow of
:mod:`.oauth`, the proofs of :mod:`.proofs`) ask :func:`strategy_for` instead of comparing
``AUTH`` values. The OAuth strategies hold the steps that differ between OAuth 2 with dynamic
client registration (Mastodon and the like), OpenID Connect (providers from the settings, an
ID token) and AT Protocol OAuth (the server found from the account, PAR and DPoP).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, ClassVar

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors import base
from connectors import oidc as openid
from connectors.atproto import SCOPE as ATPROTO_SCOPE
from connectors.atproto import DPoP
from portal.domain.linking import atproto, tokens
from portal.domain.linking.services import LinkServices, connector, connector_errors
from portal.errors import InvalidInput, NotFound
from portal.storage.models import LinkedAccount

log = logging.getLogger(__name__)


class Proof:
    """A way of proving accounts; by itself, none (the handle is shown as unverified)."""

    signs_in: ClassVar[bool] = False
    """Whether the account is proven by signing in to it with its password."""
    by_link: ClassVar[bool] = False
    """Whether the account is proven by a rel="me" link back from its public page."""

    def available(self, services: LinkServices) -> bool:
        """Whether this portal has what the proof needs (a bot token, a mail server …)."""
        return True

    def servers(self, services: LinkServices) -> list[tuple[str, str]]:
        """Choices of server where the portal's settings list them."""
        return []

    def holds_tokens(self, account: LinkedAccount) -> bool:
        """Whether the account's tokens are refreshed, revoked and reconnected by OAuth."""
        return False


class SignIn(Proof):
    signs_in = True


class Widget(Proof):
    def available(self, services: LinkServices) -> bool:
        return bool(services.telegram_bot_token and services.telegram_bot_username)


class EmailCode(Proof):
    def available(self, services: LinkServices) -> bool:
        return bool(services.smtp_url)


class LinkBack(Proof):
    by_link = True


class OAuthFlow(Proof):
    """OAuth 2 with a client this portal registers on each server (RFC 7591), as Mastodon
    offers it; the other OAuth strategies change the steps that differ."""

    tokens_per_link: ClassVar[bool] = True
    """Whether every authorization gets tokens of its own, so that revoking the tokens of a
    failed link, or the ones a reconnect replaced, ends nothing else. An OpenID provider may
    give a new sign-in the grant of an earlier one (node oidc-provider does within one browser
    session), and revoking a refresh token ends every token of its grant (RFC 7009 §2.1):
    there it would end the tokens just linked, or those of another linked account, too."""
    names_issuer: ClassVar[bool] = False
    """Whether the callback must carry ``iss`` (RFC 9207); where any does, it is checked."""

    def holds_tokens(self, account: LinkedAccount) -> bool:
        return True

    def reconnect_server(self, account: LinkedAccount) -> str:
        """Where a reconnect starts when the person names no server."""
        return account.server

    def normalize_server(
        self, cls: type[base.Connector], server: str, services: LinkServices
    ) -> str:
        """The instance's host name."""
        with connector_errors(cls.LABEL, field="server"):
            return cls.server_name(server.strip(), context=services.context)

    def label(self, cls: type[base.Connector], server: str, services: LinkServices) -> str:
        """The name the server goes by in messages."""
        return cls.LABEL

    def check_offered(self, account: LinkedAccount, services: LinkServices) -> None:
        """Refuse an account whose server this portal no longer works with."""

    async def party(
        self,
        session: AsyncSession,
        services: LinkServices,
        cls: type[base.Connector],
        server: str,
        http: httpx.AsyncClient,
        *,
        metadata: base.OAuthServer | None = None,
    ) -> tokens.Party:
        """The server (discovered, unless ``metadata`` was kept from before) and our client."""
        discovered = metadata is None
        if metadata is None:
            with connector_errors(cls.LABEL, field="server"):
                metadata = await cls.oauth_server(server, http, context=services.context)
        scopes = cls.oauth_scopes(metadata)
        client = await tokens.registered_client(
            session, services, cls, server, http, scopes, renew=discovered
        )
        return tokens.Party(metadata, client, scopes, registered=True)

    def kept_party(
        self, cls: type[base.Connector], credentials: base.Credentials, services: LinkServices
    ) -> tokens.Party | None:
        """The party kept with an account's tokens, if it was (a registered client)."""
        metadata = tokens.server_from(credentials.extra)
        client_id = credentials.extra.get("client_id")
        if not isinstance(client_id, str) or not client_id:
            return None
        secret = str(credentials.extra.get("client_secret") or "") or None
        client = base.OAuthClient(client_id, secret, services.redirect_uri(cls.NAME))
        scopes = tuple(credentials.scope.split()) or cls.oauth_scopes(metadata)
        return tokens.Party(metadata, client, scopes, registered=True)

    async def authorization_url(
        self,
        session: AsyncSession,
        services: LinkServices,
        cls: type[base.Connector],
        server: str,
        state: str,
        verifier: str,
    ) -> tuple[str, dict[str, Any], str]:
        """Where to send the person, what the callback needs kept, and the server to keep."""
        async with services.http() as http:
            party = await self.party(session, services, cls, server, http)
        nonce = self.nonce()
        kept = {"verifier": verifier, "nonce": nonce, "metadata": asdict(party.server)}
        extra: dict[str, str] = {"code_challenge_method": "S256"}
        if nonce:
            extra["nonce"] = nonce
        if "offline_access" in party.scopes:
            extra["prompt"] = "consent"  # OpenID Connect Core §11: offline access needs consent
        url: str = prepare_grant_uri(
            party.server.authorization_endpoint,
            party.client.client_id,
            "code",
            redirect_uri=party.client.redirect_uri,
            scope=" ".join(party.scopes),
            state=state,
            code_challenge=create_s256_code_challenge(verifier),
            **extra,
        )
        return url, kept, server

    def nonce(self) -> str:
        return ""

    def dpop(self, kept: Mapping[str, Any]) -> DPoP | None:
        """The key the tokens are bound to (RFC 9449), from an attempt or an account."""
        return None

    async def proven(
        self,
        payload: dict[str, Any],
        party: tokens.Party,
        kept: Mapping[str, Any],
        dpop: DPoP | None,
        http: httpx.AsyncClient,
        label: str,
    ) -> tuple[str | None, dict[str, Any] | None]:
        """The account a token answer proves, if it names one, and what to keep with the
        tokens besides the server and client."""
        return None, None

    def renewed(
        self,
        payload: dict[str, Any],
        credentials: base.Credentials,
        dpop: DPoP | None,
        label: str,
    ) -> dict[str, Any] | None:
        """What to keep with refreshed tokens, once the answer was checked."""
        return None

    async def revoke(
        self,
        session: AsyncSession,
        services: LinkServices,
        account: LinkedAccount,
        credentials: base.Credentials,
        party: tokens.Party,
        http: httpx.AsyncClient,
    ) -> bool:
        """Ask the server to forget the account's tokens (RFC 7009); ``False`` if it cannot."""
        return await tokens.revoke_quietly(
            http,
            party,
            tokens.tokens_of(credentials),
            self.dpop(credentials.extra),
            account.network,
        )


class ConfiguredApp(OAuthFlow):
    """A network of one authorization server (VK ID, Facebook Login) where the operator
    registered the portal as an app: its endpoints are the connector's, its client the
    settings'. Without the app, the network's accounts are only shown by their handle."""

    tokens_per_link = False

    def __init__(self, network: str) -> None:
        self.network = network

    def available(self, services: LinkServices) -> bool:
        return self.network in services.apps

    async def party(
        self,
        session: AsyncSession,
        services: LinkServices,
        cls: type[base.Connector],
        server: str,
        http: httpx.AsyncClient,
        *,
        metadata: base.OAuthServer | None = None,
    ) -> tokens.Party:
        app = services.apps.get(self.network)
        if app is None:
            raise InvalidInput(
                "This portal is not set up to connect %(network)s accounts.", network=cls.LABEL
            )
        if metadata is None:
            with connector_errors(cls.LABEL):
                metadata = await cls.oauth_server(server, http, context=services.context)
        client = base.OAuthClient(
            app.client_id, app.client_secret or None, services.redirect_uri(cls.NAME)
        )
        return tokens.Party(metadata, client, cls.oauth_scopes(metadata))

    def kept_party(
        self, cls: type[base.Connector], credentials: base.Credentials, services: LinkServices
    ) -> tokens.Party | None:
        return None

    def renewed(
        self,
        payload: dict[str, Any],
        credentials: base.Credentials,
        dpop: DPoP | None,
        label: str,
    ) -> dict[str, Any] | None:
        """What the network kept with the tokens when they were linked (a device id) stays."""
        return {k: v for k, v in credentials.extra.items() if k not in tokens.SERVER_KEYS}

    async def revoke(
        self,
        session: AsyncSession,
        services: LinkServices,
        account: LinkedAccount,
        credentials: base.Credentials,
        party: tokens.Party,
        http: httpx.AsyncClient,
    ) -> bool:
        """The network's own way to end what the person allowed the app (none of these
        servers has an RFC 7009 endpoint). It ends every token of the app for that person, so
        it is not asked while another account of theirs is linked through the same app (a
        Facebook account and an Instagram account of one Meta app)."""
        cls = connector(account.network)
        if await self._app_still_used(session, services, account):
            log.info("%s: the app's access stays, another linked account uses it", account.network)
            return False
        instance = cls(account.handle, credentials, http, context=services.context)
        return await instance.revoke()

    async def _app_still_used(
        self, session: AsyncSession, services: LinkServices, account: LinkedAccount
    ) -> bool:
        app = services.apps.get(account.network)
        if app is None:
            return False
        sharing = [
            name for name, other in services.apps.items() if other.client_id == app.client_id
        ]
        found = await session.scalar(
            select(LinkedAccount.id)
            .where(
                LinkedAccount.user_id == account.user_id,
                LinkedAccount.id != account.id,
                LinkedAccount.network.in_(sharing),
                LinkedAccount.verified_by == "oauth",
            )
            .limit(1)
        )
        return found is not None


class OpenIDConnect(OAuthFlow):
    """The providers the portal's settings name, each with its own client; an ID token."""

    tokens_per_link = False

    def available(self, services: LinkServices) -> bool:
        return bool(services.providers)

    def servers(self, services: LinkServices) -> list[tuple[str, str]]:
        return [(p.name, p.label) for p in services.providers.values()]

    def normalize_server(
        self, cls: type[base.Connector], server: str, services: LinkServices
    ) -> str:
        server = server.strip()
        if server not in services.providers:
            names = ", ".join(p.label for p in services.providers.values()) or "none"
            raise InvalidInput(
                "Choose one of the sign-in providers this portal offers (%(names)s).",
                field="server",
                names=names,
            )
        return server

    def label(self, cls: type[base.Connector], server: str, services: LinkServices) -> str:
        return services.providers[server].label

    def check_offered(self, account: LinkedAccount, services: LinkServices) -> None:
        if account.server not in services.providers:
            raise NotFound("The sign-in provider of this account is no longer offered here.")

    async def party(
        self,
        session: AsyncSession,
        services: LinkServices,
        cls: type[base.Connector],
        server: str,
        http: httpx.AsyncClient,
        *,
        metadata: base.OAuthServer | None = None,
    ) -> tokens.Party:
        provider = services.providers[server]
        if metadata is None:
            with connector_errors(provider.label):
                metadata = await cls.oauth_server(provider.issuer, http, context=services.context)
        client = base.OAuthClient(
            provider.client_id, provider.client_secret or None, services.redirect_uri(cls.NAME)
        )
        scopes = tuple(provider.scopes)
        if "offline_access" in metadata.scopes_supported and "offline_access" not in scopes:
            scopes += ("offline_access",)
        return tokens.Party(metadata, client, scopes)

    def nonce(self) -> str:
        nonce: str = generate_token(32)
        return nonce

    async def proven(
        self,
        payload: dict[str, Any],
        party: tokens.Party,
        kept: Mapping[str, Any],
        dpop: DPoP | None,
        http: httpx.AsyncClient,
        label: str,
    ) -> tuple[str | None, dict[str, Any] | None]:
        """The account the ID token proves, as the OpenID Connect connector names it."""
        id_token = payload.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise base.PermanentError(
                "The provider sent no ID token, so the sign-in is not proven."
            )
        claims = await openid.validate_id_token(
            id_token,
            server=party.server,
            client_id=party.client.client_id,
            nonce=kept["nonce"],
            http=http,
        )
        return openid.handle_for(str(claims["sub"]), party.server.issuer), None


class ATProtoOAuth(OAuthFlow):
    """AT Protocol OAuth: the link starts from the account, the request is pushed (PAR), the
    tokens are bound to a DPoP key; an app password signs in as well."""

    signs_in = True
    names_issuer = True

    def holds_tokens(self, account: LinkedAccount) -> bool:
        # Accounts linked by an app password hold a session of their own.
        return account.verified_by == "oauth"

    def reconnect_server(self, account: LinkedAccount) -> str:
        return account.server or account.handle

    def normalize_server(
        self, cls: type[base.Connector], server: str, services: LinkServices
    ) -> str:
        """The account itself: its server is found from it."""
        with connector_errors(cls.LABEL, field="server"):
            return cls.normalize_handle(server.strip(), context=services.context)

    async def party(
        self,
        session: AsyncSession,
        services: LinkServices,
        cls: type[base.Connector],
        server: str,
        http: httpx.AsyncClient,
        *,
        metadata: base.OAuthServer | None = None,
    ) -> tokens.Party:
        if metadata is None:  # found from the account when the link started, then kept
            raise InvalidInput("Start linking this Bluesky account again.")
        return tokens.Party(metadata, atproto.client(services), (ATPROTO_SCOPE,))

    async def authorization_url(
        self,
        session: AsyncSession,
        services: LinkServices,
        cls: type[base.Connector],
        server: str,
        state: str,
        verifier: str,
    ) -> tuple[str, dict[str, Any], str]:
        url, kept = await atproto.push(services, cls, server, state, verifier)
        return url, kept, ""

    def dpop(self, kept: Mapping[str, Any]) -> DPoP | None:
        value = kept.get("dpop")
        return DPoP(value) if isinstance(value, Mapping) else None

    async def proven(
        self,
        payload: dict[str, Any],
        party: tokens.Party,
        kept: Mapping[str, Any],
        dpop: DPoP | None,
        http: httpx.AsyncClient,
        label: str,
    ) -> tuple[str | None, dict[str, Any] | None]:
        subject = atproto.subject(payload, kept["did"], label)
        return subject, {"did": subject, "pds": kept["pds"], **_key(dpop)}

    def renewed(
        self,
        payload: dict[str, Any],
        credentials: base.Credentials,
        dpop: DPoP | None,
        label: str,
    ) -> dict[str, Any] | None:
        did = str(credentials.extra.get("did", ""))
        atproto.subject(payload, did, label)
        return {"did": did, "pds": credentials.extra.get("pds"), **_key(dpop)}


def _key(dpop: DPoP | None) -> dict[str, Any]:
    """The DPoP key (and its server nonces) to keep with the tokens bound to it."""
    return {} if dpop is None else {"dpop": dpop.state()}


_STRATEGIES: dict[str, Proof] = {
    "oauth2": OAuthFlow(),
    "oidc": OpenIDConnect(),
    "atproto": ATProtoOAuth(),
    "password": SignIn(),
    "widget": Widget(),
    "code": EmailCode(),
    "link": LinkBack(),
    "none": Proof(),
}


def strategy_for(cls: type[base.Connector]) -> Proof:
    """How accounts of the connector's network are proven: OAuth 2 networks that do not
    register a client per server (:meth:`~connectors.base.Connector.register_client`) need
    the operator's app."""
    if cls.AUTH == "oauth2" and _registers_no_client(cls):
        return ConfiguredApp(cls.NAME)
    return _STRATEGIES[cls.AUTH]


def _registers_no_client(cls: type[base.Connector]) -> bool:
    return getattr(cls.register_client, "__func__", None) is getattr(
        base.Connector.register_client, "__func__", None
    )


def oauth_flow(cls: type[base.Connector]) -> OAuthFlow | None:
    """The connector's OAuth strategy, if its accounts are proven by authorizing."""
    strategy = strategy_for(cls)
    return strategy if isinstance(strategy, OAuthFlow) else None
