"""Bluesky (AT Protocol): a handle is a domain name, the account behind it is a DID.

Why it looks like this (official docs: https://atproto.com/specs and https://docs.bsky.app):

- A handle is kept lowercase; ``@ada.bsky.social``, ``https://bsky.app/profile/<handle>``
  and ``at://<handle>`` are read as the handle. A DID (``did:plc:…``, ``did:web:…``) is
  accepted too: it is the account's lasting identifier. Handle and DID rules, resolution and
  the bidirectional check live in :mod:`connectors.atproto`
  (https://atproto.com/specs/handle, https://atproto.com/specs/did).
- The public profile page, and the link the Bluesky app opens (a universal link), is
  ``https://bsky.app/profile/<handle>``.
- Posts are at most 300 graphemes (``app.bsky.feed.post``'s ``text`` has maxGraphemes 300,
  https://docs.bsky.app/docs/advanced-guides/post-richtext).
- Linking: AT Protocol OAuth is the network's way (``AUTH = "atproto"``,
  https://atproto.com/specs/oauth). Signing in with an *app password* is the other way:
  the handle is resolved to its DID and PDS, the PDS's
  ``com.atproto.server.createSession`` returns an access and a refresh JWT, and the session's
  DID must be the resolved one (https://atproto.com/specs/xrpc, "App Passwords";
  https://docs.bsky.app/docs/api/com-atproto-server-create-session). The spec notes app
  passwords look like ``xxxx-xxxx-xxxx-xxxx`` and that clients may check this to keep people
  from signing in with their main password; we do, so the portal never holds the password
  that can delete the account. An account with email two-factor sign-in answers
  ``AuthFactorTokenRequired`` to a main password: we say to use an app password.
- The access JWT lives minutes to hours; an ``ExpiredToken`` answer is followed by one
  ``com.atproto.server.refreshSession`` with the refresh JWT, and the new pair replaces
  :attr:`Bluesky.credentials` (the caller stores it: the old refresh JWT stops working).
  ``com.atproto.server.deleteSession`` with the refresh JWT ends the session (``revoke``).
- The profile comes from ``app.bsky.actor.getProfile`` through the PDS, which hands it to
  its AppView (https://docs.bsky.app/docs/api/app-bsky-actor-get-profile). A PDS without an
  AppView (self-hosted, or a development network) cannot answer it; the profile record
  ``app.bsky.actor.profile/self`` read with ``com.atproto.repo.getRecord`` from the account's
  own repository gives the same name, bio and avatar (the avatar as a ``getBlob`` address).
- Raw API JSON becomes :class:`Actor` and :class:`Post` through pure functions
  (``app.bsky.actor.defs#profileView*``, ``app.bsky.feed.defs#feedViewPost``; ``_model``).
  The connector itself, app-password sessions and reading the profile, is ``_connector``.
"""

from __future__ import annotations

from connectors.bluesky._connector import Bluesky
from connectors.bluesky._model import (
    POSTS,
    actor_from_profile,
    actor_from_profile_record,
    post_from_feed_view,
    post_url,
    posts_address,
    profile_url,
)

__all__ = [
    "POSTS",
    "Bluesky",
    "actor_from_profile",
    "actor_from_profile_record",
    "post_from_feed_view",
    "post_url",
    "posts_address",
    "profile_url",
]
