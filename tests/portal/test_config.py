"""Settings read from the environment, as ``portal serve`` reads them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from connectors.xmpp import Server
from portal.config import Settings
from portal.deps import link_services
from tests.fixtures.app import SECRET_KEY


def _from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    monkeypatch.setenv("PORTAL_SECRET_KEY", SECRET_KEY)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def test_the_xmpp_route_from_the_environment_reaches_the_connector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _from_env(
        monkeypatch, PORTAL_XMPP_SERVER="[::1]:5223", PORTAL_XMPP_CA_FILE="/etc/ca.pem"
    )
    context = link_services(settings).context
    assert context.xmpp_server == Server("::1", 5223, ca_file="/etc/ca.pem")


def test_without_an_xmpp_route_the_domains_own_server_is_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert link_services(_from_env(monkeypatch)).context.xmpp_server is None


def test_the_resolver_and_the_loopback_rule_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _from_env(
        monkeypatch,
        PORTAL_ATPROTO_PLC_URL="https://plc.example",
        PORTAL_ATPROTO_RESOLVER_URL="",
        PORTAL_CONNECTORS_ALLOW_LOOPBACK="true",
    )
    context = link_services(settings).context
    assert (context.resolver.plc_url, context.resolver.service_url) == ("https://plc.example", None)
    assert context.allow_loopback


@pytest.mark.parametrize("value", ["localhost", "localhost:", ":5222", "host:0", "host:65536"])
def test_an_xmpp_route_without_host_and_port_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    with pytest.raises(ValidationError, match=r"give the XMPP server as host:port"):
        _from_env(monkeypatch, PORTAL_XMPP_SERVER=value)


def test_the_apps_of_vk_facebook_and_instagram_reach_linking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _from_env(
        monkeypatch,
        PORTAL_VK_CLIENT_ID="51234567",
        PORTAL_FACEBOOK_APP_ID=" 1234567890123456 ",
        PORTAL_FACEBOOK_APP_SECRET="facebook-secret",
        PORTAL_INSTAGRAM_APP_ID="1234567890123456",
        PORTAL_INSTAGRAM_APP_SECRET="facebook-secret",
    )
    apps = link_services(settings).apps
    assert {name: (app.client_id, app.client_secret) for name, app in apps.items()} == {
        "vk": ("51234567", ""),
        "facebook": ("1234567890123456", "facebook-secret"),
        "instagram": ("1234567890123456", "facebook-secret"),
    }
    # The secrets stay out of what a log of the settings would show.
    assert "facebook-secret" not in repr(settings)


def test_without_apps_no_network_of_one_server_is_linked_by_oauth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert link_services(_from_env(monkeypatch)).apps == {}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"PORTAL_FACEBOOK_APP_ID": "1234567890"},
            "PORTAL_FACEBOOK_APP_ID needs PORTAL_FACEBOOK_APP_SECRET",
        ),
        (
            {"PORTAL_INSTAGRAM_APP_SECRET": "s3cret"},
            "PORTAL_INSTAGRAM_APP_SECRET needs PORTAL_INSTAGRAM_APP_ID",
        ),
        ({"PORTAL_VK_CLIENT_ID": "my-app"}, "an app id is the number the network gave the app"),
    ],
)
def test_an_app_half_configured_stops_the_start_with_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        _from_env(monkeypatch, **env)
