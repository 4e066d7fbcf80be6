"""The OpenID Connect providers a portal offers for linking, as its operator names them.

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
