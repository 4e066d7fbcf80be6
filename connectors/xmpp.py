"""XMPP (Jabber): an address is a bare JID, ``ada@example.org``; linking is signing in.

Why it looks like this:

- An address is ``localpart@domainpart`` (RFC 7622, https://www.rfc-editor.org/rfc/rfc7622).
  The localpart is at most 1023 bytes, without ``" & ' / : < > @`` or spaces; its canonical
  form follows the PRECIS UsernameCaseMapped profile (RFC 8265), which we approximate by
  Unicode case folding and NFKC: the same mapping as the nodeprep of RFC 3920 that servers
  such as Prosody still apply, so the handle we keep is the one the server compares. The
  domainpart is a host name (IDNA, kept as Unicode labels, lowercase) or an IP literal. A
  resource (``/phone``) names one device of an account, never the account: it is dropped.
- ``xmpp:`` URIs (RFC 5122, https://www.rfc-editor.org/rfc/rfc5122) are accepted as input,
  and ``xmpp:ada@example.org?message`` is the link that opens a chat in a person's client.
- There is no token to ask for: the account's password is what acts for it, so signing in
  once proves the address and the password is kept (the portal stores credentials
  encrypted). We authenticate with SASL (RFC 6120 §6; the strongest mechanism offered,
  SCRAM-SHA-1/-256 of RFC 5802/7677 before PLAIN) only after STARTTLS with a certificate
  valid for the domain, so nothing is sent in clear; a refusal is final, the password is
  not tried again with a weaker mechanism.
- The server of a domain is found by DNS SRV: ``_xmpps-client._tcp`` for TLS from the first
  byte (XEP-0368, https://xmpp.org/extensions/xep-0368.html), ``_xmpp-client._tcp`` for
  STARTTLS (RFC 6120 §3.2), and the domain itself on port 5222 without either. We resolve
  these ourselves rather than let slixmpp (https://slixmpp.readthedocs.io/) do it, because
  people name the domain: every target and every address it resolves to goes through the
  portal's address rules (:mod:`connectors._addresses`, the context's ``addresses``) before
  anything connects, and slixmpp is handed only the checked addresses. TLS still verifies
  the certificate against the domain. A server's ``see-other-host`` redirect (RFC 6120
  §4.9.3.19) is not followed. A domain that cannot be reached for any reason (refused by
  the rules, not in DNS, a closed port, a connection dropped before the server speaks
  XMPP) gets the one same answer, so the portal cannot be used to probe networks or ports.
- For development and tests, the context's ``xmpp_server`` routes every connection to one
  ``host:port`` instead, optionally trusting a certificate authority of its own; the portal
  sets it from its settings (``Server("127.0.0.1", 5222, ca_file=...)``). An address
  linked through such a route keeps its host and port in ``Credentials.extra``.
- XMPP delivers a chat message to the recipient's server or keeps it offline there
  (XEP-0160). A stream processes stanzas in order (RFC 6120 §10.1), so a reply to a
  service discovery query sent after the message (XEP-0030) tells that our server has
  handled the message, including bouncing it when the recipient does not exist. A message's
  id is also its origin id (XEP-0359), by which a retraction names it in a chat.
- What the recipient wrote back, and whether they read a message, come from the account's
  own archive (XEP-0313, https://xmpp.org/extensions/xep-0313.html), which the server keeps
  whether or not Portal is online, in :mod:`connectors._xmpp_archive`. Answers are their
  messages with a body since the message went out and after it in the archive (whose times
  may be whole seconds), as last corrected (XEP-0308), without those they took back; an
  answer's id is the archive's own, the same on every read. A message is read when they
  marked it, or a later one, as displayed (XEP-0333; ``received`` only says a device has
  it), or wrote after it. A server that keeps no archive cannot tell: Portal says so.
- Taking a message back is a retraction (XEP-0424, https://xmpp.org/extensions/xep-0424.html,
  ``urn:xmpp:message-retract:1``): ``<retract id>`` naming the message, a body for clients
  that do not know retractions marked as a fallback (XEP-0428), and a hint that servers
  archive it (XEP-0334). Its id is derived from the message's, so one already in the
  archive is not sent again. Clients that follow the XEP hide the message; none has to.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import re
import ssl
import unicodedata
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote
from xml.etree.ElementTree import Element, SubElement

import httpx
import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

from connectors import _xmpp_archive as archive
from connectors import base
from connectors._addresses import AddressPolicy, NotFound, Unreachable, literal
from connectors.base import (
    Actor,
    Answer,
    AuthRevoked,
    Credentials,
    Delivered,
    InvalidHandle,
    Linked,
    PermanentError,
    Retriable,
    Upload,
)

__all__ = ["XMPP", "Server"]

TIMEOUT = 15.0
"""The longest one sign-in or one message may take until its work is done (closing the
connection politely afterwards takes at most 3 seconds more)."""

_MAX_PART_BYTES = 1023
_FORBIDDEN_IN_LOCALPART = frozenset("\"&'/:<>@")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot carry: a message holding them would break the stream."""
_OOB = "jabber:x:oob"
"""Out-of-band data (https://xmpp.org/extensions/xep-0066.html): where a picture is."""
_REFUSED = "The XMPP server refused this address or password."
_DISCO_INFO = "http://jabber.org/protocol/disco#info"
_HINTS = "urn:xmpp:hints"
_RETRACTED = "The sender took back a message, which your app could not remove."
"""What clients that do not know retractions show instead."""
_PORT = 5222
_DIRECT_TLS, _STARTTLS = "xmpps-client", "xmpp-client"

Record = tuple[str, str, str, int]
"""One way to connect as slixmpp takes it: service, domain, checked IP address, port."""


@dataclass(frozen=True, slots=True)
class Server:
    """Where to connect instead of asking DNS, and whom to trust for its certificate."""

    host: str
    port: int = 5222
    ca_file: str | None = None
    """A PEM file of the certificate authorities to trust instead of the system's."""


class XMPP(base.Connector):
    NAME = "xmpp"
    MESSENGER = True
    LABEL = "XMPP"
    AUTH = "password"
    HANDLE_LABEL = "XMPP address"
    HANDLE_EXAMPLE = "ada@example.org"
    CAN_VERIFY = True
    CAN_MESSAGE = True
    CAN_READ_ANSWERS = True
    CAN_WITHDRAW = True

    # -- handles --

    @classmethod
    def normalize_handle(cls, raw: str, *, context: base.Context = base.PUBLIC) -> str:
        text = base.clean(raw, max_length=3 * _MAX_PART_BYTES + 100)
        if text[:5].lower() == "xmpp:":
            text = _address_of_uri(text[5:])
        local, domain = _split(text)
        return f"{_localpart(local)}@{_domainpart(domain)}"

    @classmethod
    def deep_link(cls, handle: str) -> str:
        local, _, domain = handle.rpartition("@")
        return f"xmpp:{quote(local, safe='!$()*+,;=')}@{quote(domain, safe='[]:')}?message"

    # -- signing in --

    @classmethod
    async def sign_in(
        cls,
        handle: str,
        secret: str,
        http: httpx.AsyncClient,
        *,
        context: base.Context = base.PUBLIC,
    ) -> Linked:
        jid = cls.normalize_handle(handle, context=context)
        if not secret:
            raise PermanentError("Enter the password of this XMPP address.")
        server = context.xmpp_server
        async with _session(jid, secret, server, context.addresses):
            pass
        extra: dict[str, Any] = {"password": secret}
        if server is not None:
            extra.update(host=server.host, port=server.port)
        return Linked(_actor(jid), Credentials(extra=extra))

    # -- with an account --

    async def get_actor(self) -> Actor:
        async with self._signed_in():
            pass
        return _actor(self.handle)

    async def send_message(
        self,
        to: str,
        text: str,
        key: str = "",
        *,
        again: bool = False,
        picture: Upload | None = None,
    ) -> Delivered:
        """A chat message with ``key`` as its id. XMPP servers do not refuse an id they saw,
        so a try ``again`` looks first in the account's own archive (XEP-0313) for a message
        to the recipient with that id: found, it went out before and is not sent twice.
        ``picture`` is not uploaded (that needs the server's HTTP upload service, XEP-0363):
        its portal address (:attr:`Upload.url`) follows the text, also as the message's
        out-of-band address (XEP-0066), which clients may show as the picture."""
        recipient = self.normalize_handle(to, context=self.context)
        body = _NOT_XML.sub("", text)
        if not body.strip():
            raise PermanentError("The message is empty.")
        address = picture.url if picture is not None else ""
        if address:
            body = f"{body}\n\n{address}"
        async with self._signed_in() as client:
            if again and key and await archive.in_archive(client, recipient, key):
                return Delivered(id=key)
            # The same id on every try: clients that see it twice show it once. It is also
            # the message's origin id (XEP-0359), by which a retraction names it.
            message_id = key or uuid.uuid4().hex
            message = client.make_message(mto=recipient, mbody=body, mtype="chat")
            message["id"] = message_id
            message.xml.append(Element(f"{{{archive.ORIGIN}}}origin-id", {"id": message_id}))
            if address:
                oob = Element(f"{{{_OOB}}}x")
                SubElement(oob, f"{{{_OOB}}}url").text = address
                message.xml.append(oob)
            refused = await _handled(client, message)
            if refused is not None:
                raise PermanentError(
                    f"The XMPP server did not deliver the message to {recipient}: the address"
                    f" does not exist or takes no messages ({refused})."
                )
        return Delivered(id=message_id)

    async def answers(self, to: str, delivered: Delivered, since: datetime) -> list[Answer]:
        """What ``to`` wrote since ``since`` and after the message, as the account's own
        archive (XEP-0313) keeps it."""
        recipient = self.normalize_handle(to, context=self.context)
        _require_id(delivered)
        async with self._signed_in() as client:
            return await archive.answers(client, recipient, delivered.id, since)

    async def message_read(self, to: str, delivered: Delivered) -> bool:
        """Whether the archive holds a displayed marker (XEP-0333) of ``to`` for the message
        or a later one, or a message of theirs after it."""
        recipient = self.normalize_handle(to, context=self.context)
        _require_id(delivered)
        async with self._signed_in() as client:
            return await archive.read(client, recipient, delivered.id)

    async def withdraw_message(self, to: str, delivered: Delivered) -> None:
        """A retraction of the message (XEP-0424), with a notice for clients that do not know
        retractions (XEP-0428) and a hint to archive it (XEP-0334). Its id comes from the
        message's, so that one already in the archive is not sent again."""
        recipient = self.normalize_handle(to, context=self.context)
        _require_id(delivered)
        retraction_id = "retract-" + hashlib.sha256(delivered.id.encode()).hexdigest()[:32]
        async with self._signed_in() as client:
            if await archive.in_archive(client, recipient, retraction_id):
                return
            message = client.make_message(mto=recipient, mbody=_RETRACTED, mtype="chat")
            message["id"] = retraction_id
            message.xml.append(Element(f"{{{archive.RETRACT}}}retract", {"id": delivered.id}))
            message.xml.append(Element(f"{{{archive.FALLBACK}}}fallback", {"for": archive.RETRACT}))
            message.xml.append(Element(f"{{{_HINTS}}}store"))
            refused = await _handled(client, message)
            if refused is not None:
                raise PermanentError(
                    f"The XMPP server could not take the message back from {recipient}: the"
                    f" address does not exist or takes no messages ({refused})."
                )

    def _signed_in(self) -> contextlib.AbstractAsyncContextManager[slixmpp.ClientXMPP]:
        password = self.credentials.extra.get("password")
        if not isinstance(password, str) or not password:
            raise AuthRevoked("The password of this XMPP address is missing: connect it again.")
        return _session(self.handle, password, self._server(), self.context.addresses, revoked=True)

    def _server(self) -> Server | None:
        extra = self.credentials.extra
        host, port = extra.get("host"), extra.get("port")
        route = self.context.xmpp_server
        if isinstance(host, str) and host and isinstance(port, int):
            return Server(host, port, route.ca_file if route is not None else None)
        return route


async def _handled(client: slixmpp.ClientXMPP, message: Any) -> str | None:
    """Send ``message`` and wait until the server has handled it: the reply to a query sent
    after it (a stream keeps its order). ``None``, or why the server sent it back."""
    bounced: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_error(error: Any) -> None:
        if error["id"] == message["id"] and not bounced.done():
            bounced.set_result(str(error["error"]["condition"]) or "refused")

    client.add_event_handler("message_error", on_error)
    try:
        message.send()
        query = client.make_iq_get(queryxmlns=_DISCO_INFO, ito=client.boundjid.domain)
        with contextlib.suppress(IqError):
            try:
                await query.send(timeout=TIMEOUT / 2)  # type: ignore[no-untyped-call]
            except IqTimeout as error:
                raise Retriable("The XMPP server did not confirm the message.") from error
    finally:
        client.del_event_handler("message_error", on_error)
    return bounced.result() if bounced.done() else None


def _require_id(delivered: Delivered) -> None:
    if not delivered.id or _NOT_XML.search(delivered.id):
        raise PermanentError("This is not an XMPP message Portal sent.")


def _actor(jid: str) -> Actor:
    return Actor(network=XMPP.NAME, id=jid, handle=jid, display_name=jid.rpartition("@")[0])


# -- addresses -------------------------------------------------------------------------------


def _address_of_uri(rest: str) -> str:
    """The JID an ``xmpp:`` URI points at (RFC 5122 §2): authority, query, fragment dropped."""
    if rest.startswith("//"):
        # xmpp://account@server/target: the authority names the account to use, not the target.
        rest = rest[2:].partition("/")[2]
    rest = rest.split("#", 1)[0].split("?", 1)[0]
    try:
        return unquote(rest, errors="strict")
    except UnicodeDecodeError as error:
        raise InvalidHandle("This xmpp: link is not valid UTF-8.") from error


def _split(text: str) -> tuple[str, str]:
    """Localpart and domainpart of a JID (RFC 7622 §3.2), its resource dropped."""
    bare = text.split("/", 1)[0]
    local, at, domain = bare.partition("@")
    if not at:
        raise InvalidHandle("Enter the full address: name@server, like ada@example.org.")
    return local, domain


def _localpart(raw: str) -> str:
    if not raw:
        raise InvalidHandle("The name before @ is missing.")
    local = raw
    for _ in range(3):  # until stable: folding a normalised text may need normalising again
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", local).casefold())
        if folded == local:
            break
        local = folded
    if len(local.encode()) > _MAX_PART_BYTES:
        raise InvalidHandle(f"The name before @ is too long (at most {_MAX_PART_BYTES} bytes).")
    for char in local:
        if char in _FORBIDDEN_IN_LOCALPART:
            raise InvalidHandle(f"The name before @ cannot contain {char!r}.")
        category = unicodedata.category(char)
        if category[0] in "ZC":
            raise InvalidHandle("The name before @ cannot contain spaces or control characters.")
        if not char.isascii() and category[0] in "SP":
            raise InvalidHandle(f"The name before @ cannot contain {char!r}.")
    return local


def _domainpart(raw: str) -> str:
    if not raw:
        raise InvalidHandle("The server after @ is missing.")
    if raw.startswith("[") and raw.endswith("]"):
        if "%" in raw:
            raise InvalidHandle("The server after @ cannot name a network interface.")
        try:
            return f"[{ipaddress.IPv6Address(raw[1:-1]).compressed}]"
        except ValueError as error:
            raise InvalidHandle("The server after @ is not a valid IPv6 address.") from error
    domain = unicodedata.normalize("NFKC", raw).casefold().removesuffix(".")
    with contextlib.suppress(ValueError):
        return str(ipaddress.IPv4Address(domain))
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise InvalidHandle("The server after @ is not a valid domain name.") from error
    labels = ascii_domain.split(".")
    if len(ascii_domain) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InvalidHandle("The server after @ is not a valid domain name.")
    if labels[-1].isdigit():
        raise InvalidHandle("The server after @ is not a valid domain name or IP address.")
    try:
        return ascii_domain.encode("ascii").decode("idna")
    except UnicodeError as error:
        raise InvalidHandle("The server after @ is not a valid domain name.") from error


# -- the connection --------------------------------------------------------------------------


class _Client(slixmpp.ClientXMPP):
    """One short session: sign in, do one thing, sign out."""

    def __init__(
        self, jid: str, password: str, server: Server | None, records: list[Record]
    ) -> None:
        super().__init__(jid, password)
        self._records = records
        self._opened = False
        self.outcome: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.whitespace_keepalive = False
        # How to connect (STARTTLS or direct TLS) is in each record (get_dns_records).
        if server is not None and server.ca_file is not None:
            try:
                self.ssl_context = ssl.create_default_context(cafile=server.ca_file)
            except (OSError, ssl.SSLError) as error:
                raise PermanentError(
                    "The certificate authorities of the XMPP server cannot be read."
                ) from error
        self._attempted = False
        self._securing = False
        self.add_event_handler("session_start", self._on_session_start)
        self.add_event_handler("failed_auth", self._on_failed_auth)
        self.add_event_handler("failed_all_auth", self._on_failed_all_auth)
        self.add_event_handler("ssl_invalid_chain", self._on_invalid_certificate)
        self.add_event_handler("stream_error", self._on_stream_error)
        self.add_event_handler("reconnect_delay", self._on_unreachable)
        self.add_event_handler("disconnected", self._on_disconnected)

    async def get_dns_records(self, domain: str, port: int | None = None) -> list[Record]:
        # Only the addresses checked before connecting, on every attempt: no lookup of ours
        # or of slixmpp can lead elsewhere in between.
        return list(self._records)

    def _handle_stream_error(self, error: Any) -> None:
        # slixmpp follows ``see-other-host`` to any host the server names; we do not.
        self.event("stream_error", error)

    def start_stream_handler(self, xml: Any) -> None:
        self._opened = True
        super().start_stream_handler(xml)  # type: ignore[no-untyped-call]

    def _unreachable(self) -> Retriable:
        return Retriable(_unreachable(self.boundjid.domain))

    async def start_tls(self) -> bool:
        # A failed handshake closes the connection before start_tls() can tell why.
        self._securing = True
        try:
            secured: bool = await super().start_tls()
        finally:
            self._securing = False
        if not secured:
            self._settle(Retriable("The secure connection to the XMPP server failed."))
        return secured

    def _settle(self, error: Exception | None) -> None:
        if self.outcome.done():
            return
        if error is None:
            self.outcome.set_result(None)
        else:
            self.outcome.set_exception(error)

    def _on_session_start(self, _: Any) -> None:
        self._settle(None)

    def _on_failed_auth(self, _: Any) -> None:
        # One refusal is the answer: slixmpp would try the password again with every other
        # mechanism the server offers (PLAIN after SCRAM), which only adds failed sign-ins.
        self._attempted = True
        sasl = self.plugin["feature_mechanisms"]
        sasl.attempted_mechs |= sasl.mech_list

    def _on_failed_all_auth(self, _: Any) -> None:
        if self._attempted:
            self._settle(PermanentError(_REFUSED))
        else:
            self._settle(PermanentError("The XMPP server offers no secure way to sign in."))

    def _on_invalid_certificate(self, error: Any) -> None:
        self._settle(
            PermanentError(
                f"The certificate of the XMPP server is not valid for {self.boundjid.domain}."
            )
        )
        self.abort()

    def _on_stream_error(self, error: Any) -> None:
        condition = str(error["condition"])
        if condition in ("host-unknown", "host-gone"):
            self._settle(PermanentError(f"This XMPP server does not serve {self.boundjid.domain}."))
        else:
            self._settle(Retriable(f"The XMPP server closed the connection ({condition})."))

    def _on_unreachable(self, _: Any) -> None:
        # Every address of the server has failed once; slixmpp would now retry, forever.
        self.cancel_connection_attempt()
        self._settle(self._unreachable())

    def _on_disconnected(self, _: Any) -> None:
        if self._securing:
            return
        if not self._opened:  # whatever listens there is no XMPP server
            self._settle(self._unreachable())
        else:
            self._settle(Retriable("The XMPP server closed the connection."))


def _unreachable(domain: str) -> str:
    return f"The XMPP server of {domain} cannot be reached."


async def _records(domain: str, server: Server | None, policy: AddressPolicy) -> list[Record]:
    """Every way to connect to the server of ``domain``, each address checked by ``policy``.

    A service that is not offered (an SRV target ``.``) or cannot be looked up, and an SRV
    target that no longer resolves, are passed over, as a client tries the next record (RFC
    6120 §3.2.1); only when none is left is it :class:`Unreachable`. Any address found that
    may not be reached makes the whole name :class:`Refused`.
    """
    if server is not None:
        addresses = await policy.addresses(server.host, server.port)
        return [(_STARTTLS, domain, address, server.port) for address in addresses]
    if literal(domain) is not None:
        return [(_STARTTLS, domain, a, _PORT) for a in await policy.addresses(domain, _PORT)]
    records: list[Record] = []
    advertised = False
    for service in (_DIRECT_TLS, _STARTTLS):
        try:
            targets = await policy.services(f"_{service}._tcp.{domain}")
        except NotFound:
            continue
        for target, port in targets:
            advertised = True
            try:
                found = await policy.addresses(target, port)
            except NotFound:
                continue
            records += [(service, domain, address, port) for address in found]
    if not records:
        if advertised:
            raise NotFound(f"no server that {domain} names can be found")
        records = [(_STARTTLS, domain, a, _PORT) for a in await policy.addresses(domain, _PORT)]
    return list(dict.fromkeys(records))


@contextlib.asynccontextmanager
async def _session(
    jid: str,
    password: str,
    server: Server | None,
    addresses: AddressPolicy,
    *,
    revoked: bool = False,
) -> AsyncIterator[slixmpp.ClientXMPP]:
    """A signed-in stream for ``jid``, closed when the block ends, within :data:`TIMEOUT`.

    A refused password is :class:`PermanentError` when signing in, and :class:`AuthRevoked`
    (``revoked``) for an account linked before. Only addresses ``addresses`` allows are
    connected to.
    """
    domain = jid.rpartition("@")[2]
    client: _Client | None = None
    try:
        async with asyncio.timeout(TIMEOUT):
            try:
                records = await _records(domain, server, addresses)
            except Unreachable as error:
                raise Retriable(_unreachable(domain)) from error
            client = _Client(jid, password, server, records)
            client.connect()
            try:
                await client.outcome
            except PermanentError as error:
                if revoked and error.message == _REFUSED:
                    raise AuthRevoked(
                        "The XMPP server no longer accepts the saved password: connect it again."
                    ) from error
                raise
            yield client
    except TimeoutError as error:
        if client is None or not client._opened:
            raise Retriable(_unreachable(domain)) from error
        raise Retriable("The XMPP server did not answer in time.") from error
    finally:
        if client is not None:
            await _close(client)


async def _close(client: _Client) -> None:
    """End the stream politely, then make sure nothing of the connection is left running."""
    client.cancel_connection_attempt()
    signed_in = (
        client.outcome.done()
        and not client.outcome.cancelled()
        and client.outcome.exception() is None  # retrieved, so a failure is not reported
    )
    if client.transport is not None:
        if signed_in:
            try:
                await asyncio.wait_for(client.disconnect(wait=2.0), timeout=3.0)
            except (TimeoutError, OSError):
                client.abort()
        else:
            client.abort()
    filters = client._run_out_filters
    if filters is not None and not filters.done():
        filters.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await filters
    # Let the handlers slixmpp scheduled for the last events run to their end.
    for _ in range(3):
        await asyncio.sleep(0)
