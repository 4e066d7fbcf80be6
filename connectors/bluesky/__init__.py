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
- Publishing writes an ``app.bsky.feed.post`` record into the account's own repository with
  ``com.atproto.repo.createRecord`` (https://docs.bsky.app/docs/advanced-guides/posts):
  ``text``, ``createdAt``, the ``facets`` of its links, mentions and hashtags (UTF-8 byte
  slices, ``_richtext``: https://docs.bsky.app/docs/advanced-guides/post-richtext), pictures
  as ``app.bsky.embed.images`` (each first uploaded with ``com.atproto.repo.uploadBlob``,
  with its alt text and ``aspectRatio``), and ``reply`` (strong references, URI and CID, to
  the thread's root and the parent) for the parts of a thread. No ``langs`` (optional): the
  portal does not know the language of a post.
- What one post holds (:attr:`Bluesky.POST_RULES`): 300 graphemes (and 3,000 UTF-8 bytes) of
  text; at most 4 pictures (``app.bsky.embed.images`` ``maxLength``). A picture blob is at
  most 1,000,000 bytes: the lexicon now allows 2,000,000 ("formerly limited to 1 MB"), but
  PDSes built on the earlier lexicon, the development PDS the tests run among them, refuse a
  record whose blob is larger, so the limit every server takes is kept. The lexicon accepts
  ``image/*``; JPEG, PNG and WebP are taken (Bluesky's image service serves every picture
  as a still JPEG, so an animated GIF would not move: the portal re-encodes one instead).
  https://github.com/bluesky-social/atproto/blob/main/lexicons/app/bsky/embed/images.json
- Exactly once: the record key of a post is a TID derived from the idempotency key alone
  (``_publish``), so every attempt names the same record. Before writing, and when writing
  fails, ``com.atproto.repo.getRecord`` reads the record at that key: when it is there, the
  first attempt wrote it and it is what is returned (a PDS answers a record key in use with
  an error, a 500 on the reference PDS, and an answer can be lost on the way back). Its
  time part is not the time of writing, so a repository, which lists records by key, lists
  these posts below the ones written in the app; ``createdAt`` holds the real time.
- ``com.atproto.repo.deleteRecord`` takes a post down; a record already gone is no error
  (https://docs.bsky.app/docs/api/com-atproto-repo-delete-record).
- Direct messages go through Bluesky's chat service, which the PDS passes calls on to
  (``atproto-proxy``): a message into the one conversation of the two accounts, its answers
  read back from there; a try again looks there for the first try's message, as chat takes
  no key. An app password reaches chat when it allows direct messages; an account linked by
  signing in with Bluesky does too, as Portal's OAuth asks for ``transition:chat.bsky``; only
  one linked so before Portal asked for it does not (``_chat``).
- Errors: a revoked or ended session is :class:`AuthRevoked`, 429 :class:`RateLimited` with
  the wait of ``ratelimit-reset`` (a Unix time) or ``Retry-After``, a 5xx or a timeout
  :class:`Retriable`, any other refusal a :class:`PermanentError` with the PDS's reason.
- Raw API JSON becomes :class:`Actor` and :class:`Post` through pure functions
  (``app.bsky.actor.defs#profileView*``, ``app.bsky.feed.defs#feedViewPost``), and a draft an
  ``app.bsky.feed.post`` record (``_model``). The connector itself, app-password sessions,
  reading the profile and publishing, is ``_connector``.
"""

from __future__ import annotations

from connectors.bluesky._connector import Bluesky
from connectors.bluesky._model import (
    POSTS,
    actor_from_profile,
    actor_from_profile_record,
    post_from_feed_view,
    post_record,
    post_url,
    posts_address,
    profile_url,
)
from connectors.bluesky._publish import record_key
from connectors.bluesky._richtext import facets, mentioned_handles

__all__ = [
    "POSTS",
    "Bluesky",
    "actor_from_profile",
    "actor_from_profile_record",
    "facets",
    "mentioned_handles",
    "post_from_feed_view",
    "post_record",
    "post_url",
    "posts_address",
    "profile_url",
    "record_key",
]
