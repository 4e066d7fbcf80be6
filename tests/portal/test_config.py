"""Settings read from the environment, as ``portal serve`` reads them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from connectors.bluesky import Bluesky
from connectors.mastodon import Mastodon
from connectors.xmpp import XMPP, Server
from portal.config import Settings
from portal.domain.linking import LinkServices
from tests.fixtures.app import SECRET_KEY


@pytest.fixture(autouse=True)
def _restore_connectors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Configuring connectors sets class attributes: put them back after each test."""
    monkeypatch.setattr(Mastodon, "allow_loopback", Mastodon.allow_loopback)
    monkeypatch.setattr(Bluesky, "resolver", Bluesky.resolver)


def _from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    monkeypatch.setenv("PORTAL_SECRET_KEY", SECRET_KEY)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def test_the_xmpp_route_from_the_environment_reaches_the_connector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(XMPP, "server", None)
    settings = _from_env(
        monkeypatch, PORTAL_XMPP_SERVER="[::1]:5223", PORTAL_XMPP_CA_FILE="/etc/ca.pem"
    )
    LinkServices.from_settings(settings).configure_connectors()
    assert XMPP.server == Server("::1", 5223, ca_file="/etc/ca.pem")


def test_without_an_xmpp_route_the_connector_is_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    route = Server("127.0.0.1", 5222)
    monkeypatch.setattr(XMPP, "server", route)
    LinkServices.from_settings(_from_env(monkeypatch)).configure_connectors()
    assert XMPP.server is route


@pytest.mark.parametrize("value", ["localhost", "localhost:", ":5222", "host:0", "host:65536"])
def test_an_xmpp_route_without_host_and_port_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    with pytest.raises(ValidationError, match=r"give the XMPP server as host:port"):
        _from_env(monkeypatch, PORTAL_XMPP_SERVER=value)
