"""Matrix: a handle is a user ID, ``@ada:example.org``; linking is signing in once.

Why it looks like this:

- A user ID is ``@localpart:server_name``, at most 255 characters
  (https://spec.matrix.org/latest/appendices/#user-identifiers). The localpart takes only
  ``a-z 0-9 . _ = - / +``; upper case is not allowed, so we lower-case what people type. The
  server name is a DNS name, an IPv4 literal or a bracketed IPv6 literal, with an optional
  port (https://spec.matrix.org/latest/appendices/#server-name). Links are accepted as
  input: ``https://matrix.to/#/@ada:example.org``
  (https://spec.matrix.org/latest/appendices/#matrixto-navigation) and
  ``matrix:u/ada:example.org`` (https://spec.matrix.org/latest/appendices/#matrix-uri-scheme).
  matrix.to is the documented way to link to a person, so it is both the profile page and
  the deep link: it offers to open the person in whichever client the visitor uses.
- The server that hosts an account is found as clients find it
  (https://spec.matrix.org/latest/client-server-api/#server-discovery):
  ``https://<host>/.well-known/matrix/client`` names ``m.homeserver.base_url``, which must
  answer ``/_matrix/client/versions``. Without that file (404) the server name itself is
  tried. The spec would ask the person for an address when the file is broken; we have no
  one to ask, so the server name is tried then too, and the error says what was wrong. For
  development (where the context allows loopback) a server on a loopback address is reached
  over plain HTTP, port kept; plain HTTP is refused for everything else.
- Signing in is ``POST /_matrix/client/v3/login`` with ``m.login.password`` and an
  ``m.id.user`` identifier (https://spec.matrix.org/latest/client-server-api/#login); the
  session it opens (an access token and a device, named "Portal" in the person's device
  list) is what acts for the account afterwards. The password is never kept. ``whoami``
  (https://spec.matrix.org/latest/client-server-api/#get_matrixclientv3accountwhoami)
  confirms whose session it is, and ``/logout`` ends it
  (https://spec.matrix.org/latest/client-server-api/#post_matrixclientv3logout). Servers
  that only sign in through their own pages (single sign-on, OAuth 2) do not offer
  ``m.login.password`` in ``GET /login``; we say so instead of trying.
- Errors are read from ``errcode`` rather than the HTTP status
  (https://spec.matrix.org/latest/client-server-api/#standard-error-response):
  ``M_UNKNOWN_TOKEN`` means the session is gone, ``M_LIMIT_EXCEEDED`` carries
  ``retry_after_ms`` or a ``Retry-After`` header
  (https://spec.matrix.org/latest/client-server-api/#rate-limiting).
- A direct message goes to a room marked direct (``is_direct`` at ``/createRoom`` and the
  ``m.direct`` account data, https://spec.matrix.org/latest/client-server-api/#direct-messaging).
  An existing unencrypted one that both people are still in is reused; otherwise one is
  created and recorded. Portal cannot encrypt, so it never writes into an encrypted room.
  The message is an ``m.text`` ``m.room.message`` sent with ``PUT .../send/{txnId}``, whose
  transaction id makes a retry of the same request harmless
  (https://spec.matrix.org/latest/client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid).
  A transaction id counts in one room only, and a try again may not pick the room the try
  before it did: two messages to someone without a direct room yet each make one, and
  ``m.direct``, which each writes whole, may keep only the other's. So a try after one that
  may have gone out unrecorded first looks for the event: the server shows the device that
  sent an event its transaction id (``unsigned.transaction_id``), in the rooms marked direct
  with the person, then in the account's other rooms the person is or was in; found, it is
  not sent twice.
  The room it went to is where its answers come (``Delivered.thread``).

After a direct message went out, in :mod:`connectors.matrix._direct`:

- What the recipient wrote back is read from that room's timeline, from the newest event
  back (``GET /rooms/{roomId}/messages`` with ``dir=b`` and a filter of their
  ``m.room.message`` events, at most five pages,
  https://spec.matrix.org/latest/client-server-api/#get_matrixclientv3roomsroomidmessages):
  their messages since ours went out, oldest first, at most a hundred. Text (``m.text``,
  ``m.notice``, ``m.emote``) is the ``body``, without the quote a reply carries and as last
  edited (the server bundles the newest ``m.replace``,
  https://spec.matrix.org/latest/client-server-api/#event-replacements); anything else is a
  sign like ``[image]``; redacted events are left out. Each links to its event on matrix.to.
- Whether they read it: other people's read receipts reach a client only through ``/sync``
  (https://spec.matrix.org/latest/client-server-api/#receipts). Portal syncs with a filter
  of that one room and of ``m.receipt`` alone, with ``set_presence=offline`` so the account
  does not show as online. Synapse answers a repeated sync from a cache for two minutes, so
  Portal syncs on from that answer's ``next_batch`` until nothing is new. A public ``m.read``
  receipt (``m.read.private`` is never shown to others) on the message or on any event after
  it (a receipt acknowledges everything before it), or a message or reaction of theirs after
  it, means read.
- Taking it back is a redaction with a short reason, whose transaction id is derived from
  the event id (https://spec.matrix.org/latest/client-server-api/#redactions). The event is
  looked at first: one already redacted, or gone, is done, also for a new session whose
  transaction ids the server has not seen.

Posting into a room (cross-posting), in :mod:`connectors.matrix._publishing`:

- A post goes into a room the person names: its ID (``!abc:example.org``; since room version
  12 just ``!abc``) or its alias (``#room:example.org``), resolved with
  ``GET /directory/room/{alias}``
  (https://spec.matrix.org/latest/client-server-api/#get_matrixclientv3directoryroomroomalias).
  The account must be in the room already: Portal does not join rooms on its own. It accepts
  an invitation, which the room summary tells of
  (https://spec.matrix.org/latest/client-server-api/#get_matrixclientv1room_summaryroomidoralias),
  and it does not post into an encrypted room, which it cannot write in. Whether the account
  may post is the room's power levels' to say; the server's ``M_FORBIDDEN`` is told in words.
- The spec sets no length for a message, only 65,536 bytes for a whole event with its ids,
  hashes and signatures (https://spec.matrix.org/latest/client-server-api/#size-limits).
  Portal counts a post's text in UTF-8 bytes and takes at most 30,000: written as JSON, a
  quote, backslash, tab or line break takes two bytes (other controls are dropped), so the text
  takes at most 60,000 and the event's other fields the rest. A longer text becomes a thread.
- The text goes as plain ``body`` only, without ``formatted_body``: a post is plain text,
  Matrix clients turn the addresses in a plain body into links themselves, and the text in
  HTML as well would take the same bytes twice (and more, escaped), halving the room for it.
  ``m.mentions`` is sent empty, so that "@room" or a name in a post notifies no one
  (https://spec.matrix.org/latest/client-server-api/#user-and-room-mentions).
- A picture is uploaded with ``POST /_matrix/media/v3/upload``, still the upload endpoint
  (only downloads moved to the authenticated ``/_matrix/client/v1/media``), and sent after
  the text as an ``m.image`` message whose ``body`` is its alt text and whose ``info`` has its
  type, size and dimensions (https://spec.matrix.org/latest/client-server-api/#mimage). It
  names the text's event (``portal.part_of``), so that taking the post down finds it.
- A thread is parts related to its first with ``m.thread``; each part's ``m.in_reply_to`` is
  the part before, marked ``is_falling_back`` for clients without threads
  (https://spec.matrix.org/latest/client-server-api/#threading).
- Exactly once: every event is sent with ``PUT .../send/m.room.message/{txnId}``, with a
  transaction id derived from the post's idempotency key (the first event's, and one more for
  each picture). Sending again with the same id gives back the first event instead of a second
  copy. A transaction id is only known to the session that used it
  (https://spec.matrix.org/latest/client-server-api/#transaction-identifiers; Synapse keys it
  by device and keeps it a day): after the account is linked again, which opens a new
  session, or a day later, a retry of a post the old session published would publish it a
  second time. A picture uploaded again by a retry stays unused on the server.
- The post's id is its first event's (the text's), its address a matrix.to link to the event
  (https://spec.matrix.org/latest/appendices/#matrixto-navigation), and its ``ref`` the room
  ID. Taking it down redacts its pictures and its text
  (https://spec.matrix.org/latest/client-server-api/#redactions); an event already redacted,
  or gone, is done.
"""

from __future__ import annotations

from connectors.matrix._connector import Matrix
from connectors.matrix._discovery import discover_homeserver

__all__ = ["Matrix", "discover_homeserver"]
