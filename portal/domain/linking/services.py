"""What linking needs from the portal, and how a network's errors reach people.

:class:`LinkServices` is built once per app from the settings (``portal.deps``);
:func:`connector_errors` turns what a network said into a :class:`~portal.errors.PortalError`,
so that routes never see connector errors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field

import httpx

import connectors
from connectors import base
from connectors._addresses import AddressPolicy
from connectors.atproto import client_id_for
from portal.crypto import Vault
from portal.domain.providers import OAuthApp, OIDCProvider
from portal.errors import InvalidInput, NotFound, PortalError, RateLimited
from portal.net import GuardedClient, guarded_client


class NetworkUnavailable(PortalError):
    status_code = 502
    title = "Network unavailable"


@dataclass(frozen=True)
class LinkServices:
    """What linking needs from the portal's settings, built once per app (``portal.deps``)."""

    vault: Vault
    base_url: str
    providers: Mapping[str, OIDCProvider] = field(default_factory=dict)
    apps: Mapping[str, OAuthApp] = field(default_factory=dict)
    """The apps this portal is registered as, by network (``vk``, ``facebook``): a network
    of one authorization server is linked by OAuth only when its app is configured."""
    telegram_bot_token: str = ""
    telegram_bot_username: str = ""
    smtp_url: str = ""
    mail_from: str = ""
    picture_secret: str = field(default="", repr=False)
    """The portal's secret key, which seals the addresses of messages' pictures
    (:func:`portal.domain.posts.public_pictures.message_address`)."""
    context: base.Context = base.PUBLIC
    """What every connector call is handed: the address rules, the AT Protocol resolver, a
    development XMPP server."""

    @property
    def addresses(self) -> AddressPolicy:
        """The one address rule set of every connection people steer: HTTP and XMPP."""
        return self.context.addresses

    @asynccontextmanager
    async def http(self) -> AsyncIterator[GuardedClient]:
        """An HTTP client that reaches only public addresses (loopback too in development)."""
        async with guarded_client(policy=self.addresses) as client:
            yield client

    def redirect_uri(self, network: str) -> str:
        """The one exact address a network sends people back to after authorizing."""
        return f"{self.base_url}/me/accounts/{network}/callback"

    def atproto_client(self) -> base.OAuthClient | None:
        """This portal as an AT Protocol OAuth client; ``None`` when its address allows none
        (the network wants https, or a loopback address while developing)."""
        redirect_uri = self.redirect_uri("bluesky")
        client_id = client_id_for(self.base_url, redirect_uri)
        return None if client_id is None else base.OAuthClient(client_id, None, redirect_uri)


# -- networks --------------------------------------------------------------------------------


def connector(name: str) -> type[base.Connector]:
    found = connectors.get(name)
    if found is None:
        raise NotFound("There is no network called %(name)r.", name=name[:40])
    return found


def label_of(network: str) -> str:
    """The network's name as people know it; the stored name itself for a network this
    version no longer has (a copy or an answer kept from before)."""
    found = connectors.get(network)
    return found.LABEL if found is not None else network


@contextmanager
def connector_errors(label: str, *, field: str | None = None) -> Iterator[None]:
    """Turn what a network said into an error a person can act on."""
    try:
        yield
    except base.InvalidHandle as error:
        raise InvalidInput(error.message, field=field or "handle") from error
    except base.RateLimited as error:
        wait = max(1, int(error.retry_after or 60))
        raise RateLimited(
            "%(network)s asks us to slow down. Try again in %(wait)d seconds.",
            retry_after=wait,
            network=label,
            wait=wait,
        ) from error
    except base.Retriable as error:
        raise NetworkUnavailable(
            "%(network)s did not answer as expected (%(problem)s). Try again in a moment.",
            network=label,
            problem=error.message,
        ) from error
    except base.AuthRevoked as error:
        raise InvalidInput(
            "%(network)s no longer accepts this connection. Connect the account again.",
            network=label,
        ) from error
    except base.ConnectorError as error:
        raise InvalidInput(error.message, field=field) from error
    except httpx.HTTPError as error:
        raise NetworkUnavailable(
            "%(network)s could not be reached. Try again in a moment.", network=label
        ) from error


def normalize(cls: type[base.Connector], handle: str, context: base.Context = base.PUBLIC) -> str:
    with connector_errors(cls.LABEL, field="handle"):
        return cls.normalize_handle(handle, context=context)
