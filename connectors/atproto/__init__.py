"""The AT Protocol: handles, DIDs, DID documents, calls to a PDS, and OAuth.

Why it looks like this (the specs are the truth; links to the official texts):

- A handle is a DNS name: ASCII, at most 253 characters, two or more labels of 1-63 letters,
  digits and hyphens, no label starting or ending with a hyphen, a last label not starting
  with a digit; case-insensitive, kept in lowercase. Some top-level domains are valid syntax
  but must fail resolution (``.local``, ``.onion``…); ``.test`` is for development.
  https://atproto.com/specs/handle
- A DID is ``did:<method>:<identifier>`` (case-sensitive, at most 2048 characters); atproto
  accepts two methods, ``did:plc`` (resolved by a PLC directory, https://web.plc.directory/)
  and ``did:web`` (hostname-level only, ``https://<host>/.well-known/did.json``).
  https://atproto.com/specs/did
- A handle resolves to a DID by a DNS TXT record ``_atproto.<handle>`` (``did=<did>``), or by
  ``https://<handle>/.well-known/atproto-did``; a service can also answer for us with
  ``com.atproto.identity.resolveHandle``. A handle counts only when the DID document names
  it back (``alsoKnownAs: at://<handle>``): the check is bidirectional (``_identity``;
  the syntax of both is ``_syntax``'s).
- A TID (https://atproto.com/specs/tid) is a 64-bit integer, a 53-bit time in microseconds
  and a 10-bit clock identifier, written as 13 base32-sortable digits; it is the key of
  records such as posts. ``derived_tid`` makes one from a key instead of the clock, so a
  client that tries again writes the same record (``_syntax``).
- The DID document names the account's PDS: the service whose ``id`` ends in
  ``#atproto_pds`` and whose ``type`` is ``AtprotoPersonalDataServer``.
- XRPC: ``GET|POST /xrpc/<nsid>``; errors are JSON ``{"error", "message"}``; 429 asks to
  wait (Bluesky's PDS sends ``ratelimit-reset`` as a Unix time), 5xx may pass.
  https://atproto.com/specs/xrpc (``_xrpc``, with the address of a blob).
- AT Protocol OAuth (PAR, PKCE, DPoP: https://atproto.com/specs/oauth) starts from the same
  resolution (handle → DID → PDS → its authorization server), so it lives here too
  (``_oauth``).

Everything here is network-neutral; :mod:`connectors.bluesky` builds on it. The resolver the
portal configures (:class:`Resolver`) is handed to connectors in their
:class:`~connectors.base.Context`.
"""

from __future__ import annotations

from connectors.atproto._identity import (
    DidDocument,
    Identity,
    Resolver,
    TxtLookup,
    dns_txt,
    parse_did_document,
    service_origin,
)
from connectors.atproto._oauth import (
    CHAT_SCOPE,
    SCOPE,
    DPoP,
    authorization_server,
    client_id_for,
    client_metadata,
    push_authorization_request,
)
from connectors.atproto._syntax import (
    DISALLOWED_TLDS,
    INVALID_HANDLE,
    derived_tid,
    did_problem,
    handle_problem,
    is_valid_did,
    is_valid_handle,
    is_valid_tid,
    normalize_did,
    tid,
    web_host,
)
from connectors.atproto._xrpc import XrpcError, blob_cid, blob_url, xrpc

__all__ = [
    "CHAT_SCOPE",
    "DISALLOWED_TLDS",
    "INVALID_HANDLE",
    "SCOPE",
    "DPoP",
    "DidDocument",
    "Identity",
    "Resolver",
    "TxtLookup",
    "XrpcError",
    "authorization_server",
    "blob_cid",
    "blob_url",
    "client_id_for",
    "client_metadata",
    "derived_tid",
    "did_problem",
    "dns_txt",
    "handle_problem",
    "is_valid_did",
    "is_valid_handle",
    "is_valid_tid",
    "normalize_did",
    "parse_did_document",
    "push_authorization_request",
    "service_origin",
    "tid",
    "web_host",
    "xrpc",
]
