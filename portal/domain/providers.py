"""The OpenID Connect providers a portal offers for linking, and the apps it is registered
as on networks with one authorization server (VK, Facebook), as its operator names them.

Read from the settings (``PORTAL_OIDC_PROVIDERS``) by :mod:`portal.config`, and handed to
linking in :class:`~portal.domain.linking.LinkServices`.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class OIDCProvider(BaseModel):
    """One OpenID Connect provider people may link (Google, GitLab, a Keycloak realm…)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$", description="URL slug: google")
    label: str = Field(min_length=1, max_length=60, description="Shown to people: Google")
    issuer: str = Field(description="Issuer URL; discovery reads its openid-configuration.")
    client_id: str = Field(min_length=1)
    client_secret: str = ""
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"])


class OAuthApp(BaseModel):
    """This portal as an app registered by its operator on one network (VK ID, a Meta app)."""

    client_id: str = Field(min_length=1, description="The app's id: VK ID's app id, Meta's.")
    client_secret: str = Field(
        default="",
        description="The app's secret; empty for an app that proves itself by PKCE alone "
        "(VK ID's web apps).",
    )
