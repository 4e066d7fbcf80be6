"""The registry: every network joins by being a module, and keeps the promises of its flags."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import connectors
from connectors.base import CAPABILITY_METHODS, Connector

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = connectors.registry()
ALL = sorted(REGISTRY)

LINK_ONLY_NETWORKS = {
    "whatsapp", "signal", "viber", "messenger", "x", "threads",
    "odnoklassniki", "linkedin", "youtube", "tiktok", "snapchat", "discord", "reddit",
    "github", "gitlab", "twitch", "pinterest", "line", "wechat", "tumblr", "pixelfed",
    "medium", "keybase", "soundcloud", "flickr", "website",
}  # fmt: skip


def test_the_registry_has_at_least_thirty_networks() -> None:
    assert len(REGISTRY) >= 30, sorted(REGISTRY)


def test_every_link_only_network_is_registered() -> None:
    missing = LINK_ONLY_NETWORKS - set(REGISTRY)
    assert not missing, f"not registered: {sorted(missing)}"
    assert all(REGISTRY[name].LINK_ONLY for name in LINK_ONLY_NETWORKS)


PUBLISHING_NETWORKS = {"facebook", "instagram", "vk"}
"""Networks that were link-only and now also publish: their handles keep the same rules."""


def test_networks_that_publish_are_linked_by_oauth() -> None:
    for name in PUBLISHING_NETWORKS:
        cls = REGISTRY[name]
        assert not cls.LINK_ONLY and cls.AUTH == "oauth2" and cls.SCOPES, name
        assert cls.CAN_PUBLISH and cls.POST_RULES is not None, name


def test_the_registry_is_ordered_by_label() -> None:
    labels = [cls.LABEL.casefold() for cls in REGISTRY.values()]
    assert labels == sorted(labels)


@pytest.mark.parametrize("name", ALL)
def test_name_is_a_lowercase_slug_and_the_registry_key(name: str) -> None:
    cls = REGISTRY[name]
    assert re.fullmatch(r"[a-z0-9_]+", cls.NAME)
    assert name == cls.NAME
    assert connectors.get(name) is cls


@pytest.mark.parametrize("name", ALL)
def test_flags_and_overridden_methods_agree(name: str) -> None:
    cls = REGISTRY[name]
    for flag, methods in CAPABILITY_METHODS.items():
        for method in methods:
            overridden = getattr(cls, method) is not getattr(Connector, method)
            if getattr(cls, flag):
                assert overridden, f"{name} sets {flag} but does not override {method}"
            else:
                assert not overridden, f"{name} overrides {method} without {flag}"


@pytest.mark.parametrize("name", [name for name in ALL if REGISTRY[name].LINK_ONLY])
def test_link_only_networks_promise_nothing_else(name: str) -> None:
    cls = REGISTRY[name]
    assert not any(getattr(cls, flag) for flag in CAPABILITY_METHODS), name
    assert cls.AUTH in ("none", "link"), name


@pytest.mark.parametrize("name", ALL)
def test_every_network_has_a_label_and_an_example_it_accepts(name: str) -> None:
    cls = REGISTRY[name]
    assert cls.LABEL.strip() and cls.HANDLE_LABEL.strip()
    assert cls.HANDLE_EXAMPLE.strip()
    handle = cls.normalize_handle(cls.HANDLE_EXAMPLE)
    assert handle
    assert cls.normalize_handle(handle) == handle


@pytest.mark.parametrize("name", ALL)
def test_links_are_web_or_app_addresses(name: str) -> None:
    cls = REGISTRY[name]
    handle = cls.normalize_handle(cls.HANDLE_EXAMPLE)
    profile = cls.profile_url(handle)
    if profile is not None:
        assert profile.startswith(("https://", "http://")), profile
    deep = cls.deep_link(handle)
    if deep is not None:
        assert re.match(r"[a-z][a-z0-9+.-]*:", deep), deep
        assert not deep.lower().startswith(("javascript:", "data:", "file:")), deep


def test_the_connectors_package_does_not_import_portal() -> None:
    code = (
        "import connectors, sys; connectors.registry(); "
        "assert not any(m == 'portal' or m.startswith('portal.') for m in sys.modules), "
        "sorted(m for m in sys.modules if m.startswith('portal'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
