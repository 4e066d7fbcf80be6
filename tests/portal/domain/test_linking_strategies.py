"""Every way a connector can declare for proving its accounts has a strategy."""

from typing import get_args

import pytest
from cryptography.fernet import Fernet

import connectors
from connectors import base
from portal.crypto import Vault
from portal.domain.linking import accounts, strategies
from portal.domain.linking.services import LinkServices
from portal.domain.providers import OAuthApp


def test_every_kind_of_proof_has_a_strategy() -> None:
    assert set(get_args(base.AuthKind)) == set(strategies._STRATEGIES)


@pytest.mark.parametrize("name", sorted(connectors.registry()))
def test_each_network_is_proven_the_way_it_declares(name: str) -> None:
    cls = connectors.registry()[name]
    strategy = strategies.strategy_for(cls)
    authorizes = cls.AUTH in ("oauth2", "oidc", "atproto")
    assert (strategies.oauth_flow(cls) is not None) == authorizes
    assert strategy.signs_in == (cls.AUTH in ("password", "atproto"))
    assert strategy.by_link == (cls.AUTH == "link")


@pytest.mark.parametrize("name", ["facebook", "instagram", "vk"])
def test_a_network_of_one_oauth_server_stays_a_handle_until_its_app_is_configured(
    name: str,
) -> None:
    cls = connectors.registry()[name]
    assert isinstance(strategies.strategy_for(cls), strategies.ConfiguredApp)
    vault = Vault([Fernet.generate_key().decode()])
    without = LinkServices(vault=vault, base_url="https://portal.example")
    info = accounts.network_info(without, cls)
    assert info.link_only and not info.available
    app = OAuthApp(client_id="51234567", client_secret="app-secret")
    configured = LinkServices(vault=vault, base_url="https://portal.example", apps={name: app})
    info = accounts.network_info(configured, cls)
    assert info.available and not info.link_only


def test_mastodon_still_registers_a_client_per_server() -> None:
    mastodon = connectors.registry()["mastodon"]
    assert type(strategies.strategy_for(mastodon)) is strategies.OAuthFlow
