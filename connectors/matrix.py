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

import contextlib
import ipaddress
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from connectors import base
from connectors._http import MAX_ANSWER, Failures, parse_json, retry_after, send
from connectors.base import (
    Actor,
    AuthRevoked,
    ConnectorError,
    Credentials,
    Delivered,
    InvalidHandle,
    Linked,
    PermanentError,
    RateLimited,
    Retriable,
)

__all__ = ["Matrix", "discover_homeserver"]

TIMEOUT = httpx.Timeout(15.0, connect=5.0)
"""The longest one request to a homeserver may take."""
DEVICE_NAME = "Portal"
"""How the session Portal opens is named in the person's list of devices."""

_MAX_USER_ID = 255
_MAX_BODY_BYTES = 60_000
"""A message must fit in one event, which may not exceed 65536 bytes in all."""
_MAX_REDIRECTS = 3
_LOCALPART = re.compile(r"^[a-z0-9._=/+-]+$")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_IPV4 = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{1,3}){3}$")
_IPV6_CHARS = re.compile(r"^[0-9a-fA-F:.]{2,45}$")
_PORT = re.compile(r"^[0-9]{1,5}$")
_MATRIX_URI = re.compile(r"^matrix:(?://[^/]*/)?([a-z]+)/(.*)$", re.IGNORECASE)
"""``matrix:u/ada:example.org``; the ``@matrix:example.org`` typed without its ``@`` is not one."""
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")

_REFUSED = "The Matrix server refused this user name or password."
_SIGNED_OUT = "Matrix has ended Portal's session for this account: connect it again."
_SIGNS_IN_ELSEWHERE = (
    "This Matrix server does not let other apps sign in with a password (it signs people in "
    "on its own page), so Portal cannot link this account by signing in."
)


class Matrix(base.Connector):
    NAME = "matrix"
    LABEL = "Matrix"
    AUTH = "password"
    HANDLE_LABEL = "Matrix ID"
    HANDLE_EXAMPLE = "@ada:example.org"
    CAN_VERIFY = True
    CAN_MESSAGE = True

    # -- handles --

    @classmethod
    def normalize_handle(cls, raw: str, *, context: base.Context = base.PUBLIC) -> str:
        text = base.clean(raw, max_length=4 * _MAX_USER_ID)
        text = _identifier_of_link(text)
        if text[:1] in ("#", "!", "$"):
            raise InvalidHandle(
                "This is a Matrix room, not a person: give a user ID like @ada:example.org."
            )
        text = text.removeprefix("@")
        local, colon, server = text.partition(":")
        if not colon:
            hint = " (with a colon, not a second @)" if "@" in text else ""
            raise InvalidHandle(f"A Matrix ID is a name and a server{hint}, like @ada:example.org.")
        user_id = f"@{_localpart(local)}:{_server_name(server)}"
        if len(user_id) > _MAX_USER_ID:
            raise InvalidHandle(f"A Matrix ID has at most {_MAX_USER_ID} characters.")
        return user_id

    @classmethod
    def profile_url(cls, handle: str) -> str:
        return f"https://matrix.to/#/{quote(handle, safe='@:[]/=+')}"

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
        user_id = cls.normalize_handle(handle, context=context)
        if not secret:
            raise PermanentError("Enter the password of this Matrix account.")
        base_url = await discover_homeserver(
            server_of(user_id), http, allow_loopback=context.allow_loopback
        )
        server = _Homeserver(http, base_url)
        await server.require_password_login()
        try:
            login = await server.call(
                "POST",
                "/_matrix/client/v3/login",
                {
                    "type": "m.login.password",
                    "identifier": {"type": "m.id.user", "user": user_id},
                    "password": secret,
                    "initial_device_display_name": DEVICE_NAME,
                },
            )
        except _MatrixError as error:
            if error.errcode == "M_USER_DEACTIVATED":
                raise PermanentError("This Matrix account has been deactivated.") from None
            if error.errcode in ("M_FORBIDDEN", "M_UNAUTHORIZED") or error.status in (401, 403):
                raise PermanentError(_REFUSED) from None
            raise
        token = login.get("access_token")
        if not isinstance(token, str) or not token:
            raise PermanentError("The Matrix server signed in without giving Portal a session.")
        server.token = token
        try:
            whoami = await server.call("GET", "/_matrix/client/v3/account/whoami")
            signed_in = _user_id_in(whoami)
            if signed_in != user_id:
                raise PermanentError(
                    f"The Matrix server signed in {signed_in or 'someone else'}, not {user_id}: "
                    "Portal did not link it."
                )
            profile = await server.profile(user_id)
        except Exception:
            await server.logout_quietly()
            raise
        device_id = login.get("device_id") or whoami.get("device_id") or ""
        expires_in = login.get("expires_in_ms")
        expires_at = (
            datetime.now(UTC) + timedelta(milliseconds=expires_in)
            if isinstance(expires_in, int) and not isinstance(expires_in, bool) and expires_in > 0
            else None
        )
        credentials = Credentials(
            access_token=token,
            expires_at=expires_at,
            extra={"homeserver": base_url, "device_id": str(device_id)},
        )
        return Linked(_actor(user_id, profile), credentials)

    # -- with an account --

    async def get_actor(self) -> Actor:
        server = await self._server()
        whoami = await server.call("GET", "/_matrix/client/v3/account/whoami")
        if _user_id_in(whoami) != self.handle:
            raise AuthRevoked(f"Portal's Matrix session no longer belongs to {self.handle}.")
        return _actor(self.handle, await server.profile(self.handle))

    async def send_message(self, to: str, text: str) -> Delivered:
        recipient = self.normalize_handle(to, context=self.context)
        if recipient == self.handle:
            raise PermanentError("A Matrix account cannot send a direct message to itself.")
        body = text.replace("\x00", "")
        if not body.strip():
            raise PermanentError("The message is empty.")
        if len(body.encode()) > _MAX_BODY_BYTES:
            raise PermanentError("This message is too long for one Matrix message.")
        server = await self._server()
        room_id = await self._direct_room(server, recipient)
        transaction = uuid.uuid4().hex
        path = f"/_matrix/client/v3/rooms/{_path(room_id)}/send/m.room.message/{transaction}"
        content = {"msgtype": "m.text", "body": body}
        try:
            sent = await server.call("PUT", path, content)
        except RateLimited:
            raise
        except Retriable:
            # The same transaction id: if the first attempt did arrive, this is not a second.
            sent = await server.call("PUT", path, content)
        event_id = sent.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            raise Retriable("The Matrix server did not say whether the message was sent.")
        return Delivered(event_id)

    async def revoke(self) -> bool:
        server = await self._server()
        with contextlib.suppress(AuthRevoked):  # already ended
            await server.call("POST", "/_matrix/client/v3/logout", {})
        return True

    # -- helpers --

    async def _server(self) -> _Homeserver:
        token = self.credentials.access_token
        if not token:
            raise AuthRevoked(_SIGNED_OUT)
        stored = self.credentials.extra.get("homeserver")
        server_name = server_of(self.handle)
        loopback = self.context.allow_loopback and _is_loopback(_host_of(server_name))
        if isinstance(stored, str) and stored:
            base_url = _checked_base_url(stored, loopback=loopback)
        else:
            base_url = await discover_homeserver(
                server_name, self.http, allow_loopback=self.context.allow_loopback
            )
        return _Homeserver(self.http, base_url, token)

    async def _direct_room(self, server: _Homeserver, recipient: str) -> str:
        """A direct room with ``recipient`` that can carry an unencrypted message."""
        account_data = f"/_matrix/client/v3/user/{_path(self.handle)}/account_data/m.direct"
        direct: dict[str, Any] | None
        try:
            direct = await server.call("GET", account_data)
        except _NotFound:
            direct = {}
        except PermanentError:
            direct = None
        rooms = (direct or {}).get(recipient)
        for room_id in reversed(rooms if isinstance(rooms, list) else []):
            if isinstance(room_id, str) and await self._usable(server, room_id, recipient):
                return room_id
        try:
            await server.call("GET", f"/_matrix/client/v3/profile/{_path(recipient)}")
        except _NotFound:
            raise PermanentError(f"There is no Matrix user {recipient}.") from None
        except PermanentError:
            pass  # the profile is private; the invitation will tell
        created = await server.call(
            "POST",
            "/_matrix/client/v3/createRoom",
            {"preset": "trusted_private_chat", "is_direct": True, "invite": [recipient]},
        )
        room_id = created.get("room_id")
        if not isinstance(room_id, str) or not room_id:
            raise Retriable("The Matrix server did not say which room it created.")
        if direct is not None:
            listed = [r for r in (rooms if isinstance(rooms, list) else []) if isinstance(r, str)]
            direct = {**direct, recipient: [*listed, room_id]}
            # Should this fail, the room works all the same; clients just do not list it as direct.
            with contextlib.suppress(PermanentError):
                await server.call("PUT", account_data, direct)
        return room_id

    async def _usable(self, server: _Homeserver, room_id: str, recipient: str) -> bool:
        """We are joined, the recipient is joined or invited, and the room is not encrypted."""
        state = f"/_matrix/client/v3/rooms/{_path(room_id)}/state"
        try:
            ours = await server.call("GET", f"{state}/m.room.member/{_path(self.handle)}")
            theirs = await server.call("GET", f"{state}/m.room.member/{_path(recipient)}")
        except PermanentError:
            return False
        if ours.get("membership") != "join" or theirs.get("membership") not in ("join", "invite"):
            return False
        try:
            await server.call("GET", f"{state}/m.room.encryption")
        except _NotFound:
            return True
        except PermanentError:
            return False
        return False


# -- discovery -------------------------------------------------------------------------------


async def discover_homeserver(
    server_name: str, http: httpx.AsyncClient, *, allow_loopback: bool = False
) -> str:
    """The client API base URL of the homeserver of ``server_name`` (no trailing slash).

    A loopback server name is reached over plain HTTP only with ``allow_loopback``; without
    it, it is asked over https like any other, and the address rules refuse it."""
    host = _host_of(server_name)
    loopback = allow_loopback and _is_loopback(host)
    origin = f"http://{server_name}" if loopback else f"https://{host}"
    default = f"http://{server_name}" if loopback else f"https://{server_name}"
    problem = ""
    response = await _well_known(http, f"{origin}/.well-known/matrix/client", host, loopback)
    if response.status_code == 404:
        candidate = default
    elif response.status_code == 429:
        raise RateLimited(
            f"{host} asks Portal to slow down.", retry_after=_retry_after(response, None)
        )
    elif response.status_code >= 500:
        raise Retriable(f"{host} could not say where its Matrix server is; try again later.")
    else:
        base_url = _base_url_in(response)
        if base_url is None:
            candidate = default
            problem = f" ({host}/.well-known/matrix/client cannot be read)"
        else:
            try:
                checked = _checked_base_url(base_url, loopback=loopback)
                await _require_versions(http, checked)
            except PermanentError as error:
                raise PermanentError(
                    f"{host} names a Matrix server that does not work: {error.message}"
                ) from None
            return checked
    try:
        await _require_versions(http, candidate)
    except PermanentError:
        raise PermanentError(f"No Matrix server was found for {server_name}{problem}.") from None
    return candidate


async def _well_known(
    http: httpx.AsyncClient, url: str, host: str, loopback: bool
) -> httpx.Response:
    """Fetch the discovery file, following redirects only within the server's own host."""
    elsewhere = (
        f"{host} sends its Matrix discovery file to another site, which Portal does not follow."
    )
    failures = Failures(
        unreachable=f"Portal could not reach {host} to find its Matrix server.",
        timeout=f"{host} did not answer in time.",
        too_large=f"{host} sent a Matrix discovery file larger than Portal reads.",
        address=elsewhere,  # a redirect to ``javascript:…`` and the like
    )
    for _ in range(_MAX_REDIRECTS + 1):
        response = await send(http, "GET", url, failures, limit=MAX_ANSWER, timeout=TIMEOUT)
        if not response.is_redirect:
            return response
        try:
            target = response.request.url.join(response.headers.get("location", ""))
        except httpx.InvalidURL:
            raise PermanentError(elsewhere) from None
        if not _same_site(target, host, loopback):
            raise PermanentError(elsewhere)
        url = str(target)
    raise PermanentError(f"{host} redirects its Matrix discovery file too many times.")


def _same_site(url: httpx.URL, host: str, loopback: bool) -> bool:
    target, host = url.host.lower(), host.strip("[]")
    if url.scheme == "http":
        return loopback and _is_loopback(host) and target == host
    return url.scheme == "https" and (target == host or target.endswith("." + host))


def _base_url_in(response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return None
    try:
        data = parse_json(response.content)
    except ValueError:
        return None
    homeserver = data.get("m.homeserver") if isinstance(data, dict) else None
    base_url = homeserver.get("base_url") if isinstance(homeserver, dict) else None
    return base_url if isinstance(base_url, str) and base_url else None


def _checked_base_url(raw: str, *, loopback: bool) -> str:
    """A homeserver base URL we may talk to: https, or http to loopback for a loopback name."""
    if len(raw) > 2000:
        raise PermanentError("its address is too long.")
    try:
        parts = urlsplit(raw.strip())
        port = parts.port
    except ValueError:
        raise PermanentError("its address is not a web address.") from None
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password or parts.query or parts.fragment:
        raise PermanentError("its address is not a plain web address.")
    if parts.scheme == "http" and not (loopback and _is_loopback(host)):
        raise PermanentError("its address is not https://.")
    if parts.scheme not in ("http", "https"):
        raise PermanentError("its address is not https://.")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path}".rstrip("/")


async def _require_versions(http: httpx.AsyncClient, base_url: str) -> None:
    """``base_url`` answers ``/_matrix/client/versions`` as a homeserver does."""
    try:
        data = await _Homeserver(http, base_url).call("GET", "/_matrix/client/versions")
    except _Unreadable:
        data = {}
    versions = data.get("versions")
    if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
        raise PermanentError("it does not answer as a Matrix server.")


# -- talking to a homeserver -----------------------------------------------------------------


class _MatrixError(PermanentError):
    """The homeserver refused a request with a standard error response."""

    def __init__(self, message: str, *, status: int, errcode: str) -> None:
        super().__init__(message)
        self.status = status
        self.errcode = errcode


class _NotFound(_MatrixError):
    pass


class _Unreadable(Retriable):
    """A success whose body is not a JSON object."""


@dataclass
class _Homeserver:
    http: httpx.AsyncClient
    base_url: str
    token: str = ""

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    async def call(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """One request; the JSON object answered, or the error it means."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        failures = Failures(
            unreachable=f"Portal could not reach the Matrix server {self.host}.",
            timeout=f"The Matrix server {self.host} did not answer in time.",
            too_large=f"The Matrix server {self.host} sent an answer larger than Portal reads.",
            # A redirect to ``mailto:…`` and the like.
            address=f"The Matrix server {self.host} answered with a redirect.",
        )
        response = await send(
            self.http,
            method,
            self.base_url + path,
            failures,
            limit=MAX_ANSWER,
            headers=headers,
            json=body,
            timeout=TIMEOUT,
        )
        if response.status_code >= 400 or response.is_redirect:
            raise _error(response, self.host)
        try:
            data = parse_json(response.content)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise _Unreadable(f"The Matrix server {self.host} gave an answer Portal cannot read.")
        return data

    async def require_password_login(self) -> None:
        try:
            data = await self.call("GET", "/_matrix/client/v3/login")
        except _MatrixError:
            return  # no list of ways to sign in: let the attempt itself tell
        flows = data.get("flows")
        types = (
            {flow.get("type") for flow in flows if isinstance(flow, dict)}
            if isinstance(flows, list)
            else set()
        )
        if "m.login.password" not in types:
            raise PermanentError(_SIGNS_IN_ELSEWHERE)

    async def profile(self, user_id: str) -> dict[str, Any]:
        try:
            return await self.call("GET", f"/_matrix/client/v3/profile/{_path(user_id)}")
        except _MatrixError:
            return {}  # no profile, or one kept private: the user ID is all there is

    async def logout_quietly(self) -> None:
        with contextlib.suppress(ConnectorError):
            await self.call("POST", "/_matrix/client/v3/logout", {})


def _error(response: httpx.Response, host: str) -> ConnectorError:
    status = response.status_code
    try:
        data = parse_json(response.content)
    except ValueError:
        data = None
    errcode = data.get("errcode") if isinstance(data, dict) else None
    errcode = errcode if isinstance(errcode, str) else ""
    if status == 429 or errcode == "M_LIMIT_EXCEEDED":
        return RateLimited(
            f"The Matrix server {host} asks Portal to slow down.",
            retry_after=_retry_after(response, data),
        )
    if status == 401 and errcode in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
        return AuthRevoked(_SIGNED_OUT)
    if status >= 500:
        return Retriable(f"The Matrix server {host} has a problem ({status}); try again later.")
    if response.is_redirect:
        return PermanentError(f"The Matrix server {host} answered with a redirect.")
    if status == 404:
        return _NotFound(
            f"The Matrix server {host} has no such thing.", status=status, errcode=errcode
        )
    if errcode == "M_TOO_LARGE" or status == 413:
        return _MatrixError("This is too large for Matrix.", status=status, errcode=errcode)
    reason = f" ({errcode})" if re.fullmatch(r"[A-Z0-9_.]{1,64}", errcode) else ""
    return _MatrixError(
        f"The Matrix server {host} refused the request{reason}.", status=status, errcode=errcode
    )


def _retry_after(response: httpx.Response, data: Any) -> float | None:
    milliseconds = data.get("retry_after_ms") if isinstance(data, dict) else None
    if isinstance(milliseconds, int | float) and not isinstance(milliseconds, bool):
        try:
            seconds = float(milliseconds) / 1000
        except OverflowError:  # an integer too large for a float: no usable wait
            seconds = math.nan
        if math.isfinite(seconds):
            return max(seconds, 0.0)
    return retry_after(response.headers)


# -- identifiers -----------------------------------------------------------------------------


def server_of(user_id: str) -> str:
    """The server name of a normalised user ID: everything after the first colon."""
    return user_id.partition(":")[2]


def _identifier_of_link(text: str) -> str:
    """The identifier in a matrix.to link or a ``matrix:`` URI; other text as it is."""
    lowered = text.lower()
    uri = _MATRIX_URI.match(text)
    if uri:
        path = unquote(uri.group(2).split("?", 1)[0].split("#", 1)[0]).strip("/")
        if uri.group(1).lower() in ("u", "user"):
            return "@" + path
        if uri.group(1).lower() in ("r", "roomid", "e"):
            return "#" + path
        raise InvalidHandle("This matrix: link does not name a person.")
    if lowered.startswith("matrix.to/#"):
        text, lowered = "https://" + text, "https://" + lowered
    if "://" not in lowered:
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        raise InvalidHandle("This address cannot be read.") from None
    if parts.scheme not in ("http", "https") or (parts.hostname or "").lower() != "matrix.to":
        raise InvalidHandle("Give a Matrix ID like @ada:example.org, or a matrix.to link.")
    identifier = unquote(parts.fragment.split("?", 1)[0]).strip("/")
    if not identifier:
        raise InvalidHandle("This matrix.to link does not name anyone.")
    return identifier


def _localpart(raw: str) -> str:
    local = raw.lower()
    if not local:
        raise InvalidHandle("A Matrix ID has a name before the colon, like @ada:example.org.")
    if not _LOCALPART.match(local):
        raise InvalidHandle(
            "The name in a Matrix ID has only the letters a-z, digits and . _ = - / +"
        )
    return local


def _server_name(raw: str) -> str:
    """A server name by the spec's grammar, lower-cased (IDNA for a Unicode DNS name)."""
    if not raw:
        raise InvalidHandle("A Matrix ID has a server after the colon, like @ada:example.org.")
    if raw.startswith("["):
        address, bracket, rest = raw[1:].partition("]")
        if not bracket or not _IPV6_CHARS.match(address):
            raise InvalidHandle("This server's IPv6 address is not valid.")
        try:
            host = f"[{ipaddress.IPv6Address(address).compressed}]"
        except ValueError:
            raise InvalidHandle("This server's IPv6 address is not valid.") from None
        port = _port(rest[1:]) if rest.startswith(":") else None
        if rest and port is None:
            raise InvalidHandle("This server name has something after its address.")
    else:
        name, colon, port_text = raw.partition(":")
        port = _port(port_text) if colon else None
        host = _dns_or_ipv4(name)
    return f"{host}:{port}" if port is not None else host


def _port(text: str) -> int:
    if not _PORT.match(text) or not 0 < int(text) < 65536:
        raise InvalidHandle("This server's port is not a number from 1 to 65535.")
    return int(text)


def _dns_or_ipv4(name: str) -> str:
    if _IPV4.match(name):
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise InvalidHandle(f"{name!r} is not a valid IP address.") from None
    host = name.rstrip(".").lower()
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidHandle(f"{name[:80]!r} is not a valid server name.") from None
    labels = host.split(".")
    if (
        not host
        or len(host) > 253
        or not all(_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise InvalidHandle(f"{name[:80]!r} is not a valid server name, like example.org.")
    return host


def _host_of(server_name: str) -> str:
    if server_name.startswith("["):
        return server_name[: server_name.index("]") + 1]
    return server_name.partition(":")[0]


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _path(identifier: str) -> str:
    """An identifier as one path segment (a localpart may hold a ``/``)."""
    return quote(identifier, safe="")


def _user_id_in(whoami: dict[str, Any]) -> str | None:
    user_id = whoami.get("user_id")
    if not isinstance(user_id, str):
        return None
    try:
        return Matrix.normalize_handle(user_id)
    except InvalidHandle:
        return None


def _actor(user_id: str, profile: dict[str, Any]) -> Actor:
    name = profile.get("displayname")
    display_name = _UNPRINTABLE.sub("", name).strip()[:256] if isinstance(name, str) else ""
    return Actor(
        network=Matrix.NAME,
        id=user_id,
        handle=user_id,
        display_name=display_name,
        url=Matrix.profile_url(user_id),
    )
