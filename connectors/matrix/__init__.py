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
"""

from __future__ import annotations

from connectors.matrix._connector import Matrix
from connectors.matrix._discovery import discover_homeserver

__all__ = ["Matrix", "discover_homeserver"]
