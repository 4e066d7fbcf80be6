"""Settings, read from the environment (prefix ``PORTAL_``) and an optional ``.env`` file."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from portal.crypto import derive_key, parse_keys
from portal.db import VAR_DIR, private_directory
from portal.domain.number import AllocationPolicy
from portal.domain.providers import OAuthApp, OIDCProvider


def _default_secret_key() -> str:
    """A key kept in ``var/secret_key``, so sessions outlive a restart of the embedded default."""
    path = VAR_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        private_directory(VAR_DIR)
        key = secrets.token_urlsafe(48)
        # Created readable by its owner only, never world-readable even for a moment.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(key)
        return key


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{VAR_DIR}/portal.db",
        description="SQLAlchemy URL: sqlite+aiosqlite:///path or postgresql+asyncpg://…",
    )
    secret_key: str = Field(
        default_factory=_default_secret_key,
        min_length=32,
        description="Signs CSRF tokens. Generated into var/secret_key when unset.",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The public address of this portal. Unset, `portal serve` uses the address "
        "it listens on.",
    )
    cookie_secure: bool = Field(
        default=True, description="Send cookies only over HTTPS (browsers exempt localhost)."
    )
    session_days: int = Field(default=30, ge=1, le=365, description="How long a sign-in lasts.")

    number_length: int = Field(
        default=8, ge=4, le=15, description="Digits in a new portal number, check digit included."
    )
    number_max_fill: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="Fill ratio of a length past which new numbers get one more digit.",
    )

    avatar_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    media_max_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="The largest picture that can be uploaded for a post (it is re-encoded "
        "smaller before it is published).",
    )
    avatar_size: int = Field(default=512, ge=64, le=2048, description="Avatar edge in pixels.")
    avatar_workers: int = Field(
        default=1, ge=1, le=32, description="Processes decoding uploaded pictures at once."
    )
    avatar_queue: int = Field(
        default=4, ge=0, le=1000, description="Uploads that may wait for a decoding process."
    )
    max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Largest request body, uploads aside."
    )

    rate_limit_storage: str = Field(
        default="memory://",
        description="Rate-limit store: memory://, or redis://host:6379 to share between processes.",
    )
    rate_limits_enabled: bool = True
    card_cache_size: int = Field(
        default=20_000,
        ge=0,
        description="Cards of looked-up numbers kept in each web process; 0 keeps none.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool = Field(default=False, description="Log one JSON object a line.")

    encryption_keys: str = Field(
        default="",
        description="Fernet keys for secrets at rest, newest first, separated by commas. "
        "Empty: one key derived from the secret key.",
    )
    oidc_providers: list[OIDCProvider] = Field(
        default_factory=list, description="OpenID Connect providers, as a JSON list."
    )
    vk_client_id: str = Field(
        default="",
        description="The id of this portal's app in VK ID: VK accounts are linked by signing in "
        "on VK once it is set (VK ID takes no secret from a web app: PKCE proves the portal).",
    )
    facebook_app_id: str = Field(
        default="",
        description="The id of this portal's Meta app with Facebook Login: Facebook accounts are "
        "linked by signing in on Facebook, and publish to their Pages, once it is set.",
    )
    facebook_app_secret: str = Field(
        default="", repr=False, description="That app's secret (needed with its id)."
    )
    instagram_app_id: str = Field(
        default="",
        description="The id of the Meta app with Facebook Login that links Instagram "
        "professional accounts (it may be the Facebook one).",
    )
    instagram_app_secret: str = Field(
        default="", repr=False, description="That app's secret (needed with its id)."
    )
    telegram_bot_token: str = Field(default="", description="Bot token for the Login Widget.")
    telegram_bot_username: str = Field(default="", description="The bot's username, no @.")
    smtp_url: str = Field(
        default="",
        description="Mail for email codes and account links (written to the log when empty): "
        "smtp://user:password@host:587 (STARTTLS), "
        "smtps://…:465 (TLS), or smtp+plain://host:25 on a trusted local relay.",
    )
    mail_from: str = Field(default="Portal <portal@localhost>", description="Sender of emails.")
    sms_sender: Literal["console", "http"] = Field(
        default="console",
        description="How phone codes are sent: console (written to the log, for development) "
        "or http (POSTed to the SMS gateway).",
    )
    sms_gateway_url: str = Field(
        default="",
        description='The SMS gateway that receives {"to": "+39…", "text": "…"} as JSON.',
    )
    sms_gateway_token: str = Field(
        default="", description="Sent to the SMS gateway as 'Authorization: Bearer <token>'."
    )
    sms_gateway_timeout: float = Field(
        default=10.0, gt=0, le=120, description="Seconds to wait for the SMS gateway."
    )
    atproto_plc_url: str = Field(
        default="https://plc.directory", description="PLC directory that resolves did:plc."
    )
    atproto_resolver_url: str = Field(
        default="https://bsky.social",
        description="A service whose resolveHandle answers when a handle has no DNS/HTTPS proof.",
    )
    connectors_allow_loopback: bool = Field(
        default=False,
        description="Development only: let connectors reach servers on this machine "
        "(127.0.0.1, ::1), over http too; no other private address is ever reached.",
    )
    feed_poller: Literal["inline", "worker", "off"] | None = Field(
        default=None,
        description="Who polls the feeds: inline (the web server, in its own process), worker "
        "(separate `portal worker` processes) or off. Unset: inline with SQLite, worker with "
        "PostgreSQL.",
    )
    jobs: Literal["inline", "worker", "off"] | None = Field(
        default=None,
        description="Who runs the background jobs (publishing posts): inline (the web server, "
        "in its own process), worker (separate `portal worker` processes) or off. Unset: "
        "inline with SQLite, worker with PostgreSQL.",
    )
    jobs_concurrency: int = Field(
        default=8,
        ge=1,
        le=200,
        description="Jobs a worker runs at once (publishing to ten networks takes ten).",
    )
    jobs_lease_seconds: float = Field(
        default=60.0,
        ge=1.0,
        le=3600.0,
        description="How long a worker's claim on a job holds without renewal (it renews it "
        "every third of this while the job runs): a job whose worker died is taken up again "
        "after this long.",
    )
    xmpp_server: str = Field(
        default="",
        description="Development only: reach every XMPP address at this host:port instead of "
        "looking up its domain's server in DNS. A server on this machine (127.0.0.1:5222) "
        "also needs PORTAL_CONNECTORS_ALLOW_LOOPBACK=true.",
    )
    xmpp_ca_file: str = Field(
        default="",
        description="Development only: certificate authorities (PEM) for that XMPP server.",
    )

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept the usual ``postgresql://`` and ``sqlite://`` forms and pick the async driver."""
        if value.startswith(("postgres://", "postgresql://")):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite://"):
            return "sqlite+aiosqlite://" + value.split("://", 1)[1]
        return value

    @field_validator("xmpp_server")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        if not value:
            return value
        host, _, port = value.rpartition(":")
        if not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("give the XMPP server as host:port, like 127.0.0.1:5222")
        return value

    @field_validator("sms_gateway_url")
    @classmethod
    def _gateway_url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("give the SMS gateway as an http:// or https:// address")
        return value

    @model_validator(mode="after")
    def _gateway_for_http(self) -> Settings:
        if self.sms_sender == "http" and not self.sms_gateway_url:
            raise ValueError("PORTAL_SMS_SENDER=http needs PORTAL_SMS_GATEWAY_URL")
        return self

    @field_validator("vk_client_id", "facebook_app_id", "instagram_app_id")
    @classmethod
    def _app_number(cls, value: str) -> str:
        value = value.strip()
        if value and not (value.isascii() and value.isdigit() and len(value) <= 30):
            raise ValueError("an app id is the number the network gave the app")
        return value

    @model_validator(mode="after")
    def _app_secrets(self) -> Settings:
        for network in ("facebook", "instagram"):
            app_id = getattr(self, f"{network}_app_id")
            secret = getattr(self, f"{network}_app_secret").strip()
            name = f"PORTAL_{network.upper()}_APP"
            if app_id and not secret:
                raise ValueError(f"{name}_ID needs {name}_SECRET, the app's secret")
            if secret and not app_id:
                raise ValueError(f"{name}_SECRET needs {name}_ID, the app's id")
        return self

    @property
    def secret_keys(self) -> list[str]:
        """The encryption keys at rest, newest first."""
        return parse_keys(self.encryption_keys) or [derive_key(self.secret_key)]

    @field_validator("encryption_keys")
    @classmethod
    def _valid_keys(cls, value: str) -> str:
        parse_keys(value)
        return value

    @field_validator("oidc_providers")
    @classmethod
    def _unique_providers(cls, value: list[OIDCProvider]) -> list[OIDCProvider]:
        names = [provider.name for provider in value]
        if len(names) != len(set(names)):
            raise ValueError("two OpenID Connect providers have the same name")
        return value

    @property
    def apps(self) -> dict[str, OAuthApp]:
        """The apps this portal is registered as, by network: those whose id is set."""
        apps = {
            "vk": (self.vk_client_id, ""),
            "facebook": (self.facebook_app_id, self.facebook_app_secret.strip()),
            "instagram": (self.instagram_app_id, self.instagram_app_secret.strip()),
        }
        return {
            network: OAuthApp(client_id=app_id, client_secret=secret)
            for network, (app_id, secret) in apps.items()
            if app_id
        }

    @property
    def feed_poller_mode(self) -> Literal["inline", "worker", "off"]:
        """:attr:`feed_poller`, or its default for the database."""
        if self.feed_poller is not None:
            return self.feed_poller
        return "inline" if self.database_url.startswith("sqlite") else "worker"

    @property
    def jobs_mode(self) -> Literal["inline", "worker", "off"]:
        """:attr:`jobs`, or its default for the database."""
        if self.jobs is not None:
            return self.jobs
        return "inline" if self.database_url.startswith("sqlite") else "worker"

    @property
    def number_policy(self) -> AllocationPolicy:
        return AllocationPolicy(min_length=self.number_length, max_fill=self.number_max_fill)


@lru_cache
def get_settings() -> Settings:
    return Settings()
