"""Every way a connector can declare for proving its accounts has a strategy."""

from typing import get_args

import pytest

import connectors
from connectors import base
from portal.domain.linking import strategies


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
