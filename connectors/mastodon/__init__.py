"""Mastodon: an account is ``user@instance``; linking is OAuth 2 with the person's own server.

Why it looks like this (the API docs are the truth: https://docs.joinmastodon.org/):

- Every instance is its own authorization server: Portal registers itself as a client of each
  instance the first time someone links an account there, and finds its endpoints in its
  metadata or, before Mastodon 4.3, at fixed paths (``_oauth``).
- Scopes (https://docs.joinmastodon.org/api/oauth-scopes/) are the least for what this
  connector does: ``profile`` (only ``verify_credentials``, Mastodon 4.3 and later),
  ``read:statuses`` for the account's posts, ``write:statuses`` and ``write:media`` to
  publish; ``read:accounts`` instead of ``profile`` where the metadata lists granular scopes
  but not ``profile``. Granular scopes are asked for only where the server's metadata
  (``/.well-known/oauth-authorization-server``, ``scopes_supported``) lists them: many other
  servers of the Mastodon API (GoToSocial, Pleroma, Akkoma, Takahē …) and Mastodon before 4.3
  publish none, and some of them register an app with granular scopes but then refuse its
  token with ``403 out_of_scope_for_token``. There Portal asks for the classic ``read write``,
  which every one of them knows.
- A handle's server part is the instance that issued the token, never a domain the instance
  claims for itself: a server could otherwise name someone else's domain. The profile address
  is the one the server gives, when it is on that server's host; a server's stand-in picture
  for an account without one is no picture (``_model``).
- The person names their server by its name, their handle or their profile's address.
- A status is limited to ``configuration.statuses.max_characters`` of the instance
  (https://docs.joinmastodon.org/entities/Instance/), 500 by default. Mastodon counts the
  content warning plus the text in grapheme clusters, every link as 23 characters and a
  mention ``@user@domain`` as ``@user``. There is no thread on publish, so a longer post is
  refused with its count rather than cut.
- Posts are read from ``GET /api/v1/accounts/:id/statuses`` without boosts (a boost is
  someone else's post) and only when public or unlisted: the owner's token also reads
  followers-only posts and private mentions, which must not leave Mastodon. Pages follow
  the ``Link`` header's ``max_id`` (https://docs.joinmastodon.org/api/guidelines/#pagination).
- Publishing sends an ``Idempotency-Key`` (https://docs.joinmastodon.org/methods/statuses/),
  so a retried request makes one status. Pictures go to ``POST /api/v2/media``, which may
  answer 202 and finish in the background; ``GET /api/v1/media/:id`` says when it is done
  (https://docs.joinmastodon.org/methods/media/).
- A direct message is a status with ``visibility: direct`` that mentions the recipient,
  sent with the copy's key as its ``Idempotency-Key`` (Mastodon keeps a key for an hour);
  its answers are the recipient's statuses below it (``/context``), it counts as read when
  the recipient favourited it, and it is taken back by deleting it (``_direct``). The scopes
  above cover it: ``write:statuses`` to post and delete it, ``read:statuses`` to read the
  thread and the favourites of a status that is not public.
- Errors: 401, and a 400 or 403 that says the token is invalid, is a revoked token; other
  403s, 404 and 422 are refusals; 429 carries
  ``X-RateLimit-Reset``; 5xx, timeouts and unreachable servers may pass. Redirects are never
  followed (``_api``).

``Credentials.extra`` of a linked account holds ``server`` (the instance, ``host`` or, in
development, ``localhost:port``). Exchanging codes, refreshing and revoking tokens are the
portal's OAuth flow, the same for every OAuth network, which keeps there too the server's
endpoints and the registered client the tokens were issued to.
"""

from __future__ import annotations

from connectors.mastodon._api import retry_after
from connectors.mastodon._connector import Mastodon
from connectors.mastodon._model import actor_from_json, media_from_json, post_from_json
from connectors.mastodon._text import count_status, countable_text, html_to_text, max_characters

__all__ = [
    "Mastodon",
    "actor_from_json",
    "count_status",
    "countable_text",
    "html_to_text",
    "max_characters",
    "media_from_json",
    "post_from_json",
    "retry_after",
]
