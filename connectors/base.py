"""The one interface every network sits behind.

A connector is a class whose constants say what the network is and what it can do; the
methods that do it are overridden only where a flag says so (a test holds the two together).
Handle rules are class methods, because looking a handle up needs no account; everything that
talks to the network runs on an instance made with the account's credentials and an HTTP
client.

This module, like the whole package, never imports ``portal``: connectors speak in their own
types (:class:`Actor`, :class:`Post`, :class:`Draft`, :class:`Page`) and errors
(:class:`ConnectorError` and its kinds), and the portal maps both onto its own.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar
from urllib.parse import quote, urlsplit

import httpx
import regex

from connectors._addresses import AddressPolicy

if TYPE_CHECKING:
    from connectors.atproto import Resolver
    from connectors.xmpp import Server

AuthKind = Literal["oauth2", "oidc", "atproto", "widget", "password", "code", "link", "none"]
"""How a link proves ownership: an OAuth 2 or OpenID Connect authorization, AT Protocol OAuth,
a signed login widget, signing in with a password, a one-time code, a link back from a public
page (rel="me"), or not at all (the handle is shown as unverified)."""

TextCounting = Literal["characters", "graphemes", "utf16", "bytes", "twitter"]

T = TypeVar("T")


# -- errors ----------------------------------------------------------------------------------


class ConnectorError(Exception):
    """Something went wrong talking to a network. The message is meant for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidHandle(ConnectorError):
    """The handle (or profile address) is not one this network can have."""


class PermanentError(ConnectorError):
    """The network refused the request and would refuse it again: do not retry."""


class Retriable(ConnectorError):
    """A failure that may pass: the network is down, slow or answered with a 5xx."""


class RateLimited(Retriable):
    """The network asks us to wait ``retry_after`` seconds before the next request."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthRevoked(ConnectorError):
    """The credentials no longer work: the person must connect the account again."""


# -- common types ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Actor:
    """A person (or page) on a network, as much as the network tells of them."""

    network: str
    id: str
    handle: str
    display_name: str = ""
    url: str | None = None
    avatar_url: str | None = None
    bio: str = ""


@dataclass(frozen=True, slots=True)
class Media:
    url: str
    mime_type: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class Post:
    network: str
    id: str
    author: Actor
    published: datetime
    text: str = ""
    html: str = ""
    url: str | None = None
    media: tuple[Media, ...] = ()
    reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class Upload:
    """A picture to attach, with its bytes: already checked and re-encoded by the portal."""

    data: bytes
    mime_type: str
    description: str = ""
    """The alt text; empty when the author chose to go without."""
    width: int = 0
    height: int = 0
    id: str = ""
    """The portal's own name for the picture, which a connector only hands back to
    :attr:`Context.media_url`; empty for a picture the portal does not keep."""
    url: str = ""
    """Where anyone may see the picture for a while, without signing in: for a direct
    message on a network that takes no picture in one, the address follows the text."""


@dataclass(frozen=True, slots=True)
class Published:
    """One post as the network keeps it: its id, its web address, and what a reply to it or
    a look-up of it needs besides the id (``ref``: a Bluesky record's CID)."""

    id: str
    url: str | None = None
    ref: str = ""


@dataclass(frozen=True, slots=True)
class Thread:
    """Where a part of a thread goes: under ``parent``, in the thread started by ``root``."""

    root: Published
    parent: Published


@dataclass(frozen=True, slots=True)
class Draft:
    """What a person wants to say: as written, or as already adapted to one network."""

    text: str
    media: tuple[Media, ...] = ()
    link: str | None = None
    content_warning: str = ""
    uploads: tuple[Upload, ...] = ()
    destination: str = ""
    """Where it goes on networks that post into a place (a Matrix room, a Telegram channel,
    a Facebook Page); empty for the account's own timeline."""
    reply_to: Thread | None = None


ResponseKind = Literal["reply", "quote", "repost", "like"]


@dataclass(frozen=True, slots=True)
class Response:
    """What someone did with a published post, as its network keeps it: a reply or a quote
    (with its text and address, where one answers it), a repost, or a like."""

    kind: ResponseKind
    id: str
    """Unique among the post's responses of its kind: the reply's own id, or the id of who
    reposted or liked (one like per person)."""
    author: Actor
    published: datetime | None = None
    """When it happened, where the network tells (it does not for Mastodon's boosts)."""
    text: str = ""
    url: str | None = None
    in_reply_to: str | None = None
    """The id of the post a reply answers: the published post, or another reply."""

    @classmethod
    def answering(cls, kind: ResponseKind, post: Post) -> Response:
        """A reply or a quote: a post of the network that answers the published one."""
        return cls(
            kind,
            post.id,
            post.author,
            published=post.published,
            text=post.text,
            url=post.url,
            in_reply_to=post.reply_to,
        )


@dataclass(frozen=True, slots=True)
class PostRules:
    """What a network accepts in one post, from its documentation: the portal adapts a draft
    to these before publishing (splits it into a thread, or shortens it with a link)."""

    max_length: int
    """The longest text of one post, counted by :meth:`Connector.count_text`."""
    caption_length: int | None = None
    """The longest text that goes with pictures, where it is shorter (Telegram's captions)."""
    max_media: int = 4
    max_media_bytes: int = 5 * 1024 * 1024
    media_types: tuple[str, ...] = ("image/jpeg", "image/png", "image/webp", "image/gif")
    media_required: bool = False
    """A post needs a picture (Instagram)."""
    links_clickable: bool = True
    """Links in the text become links (not on Instagram, where the portal says so)."""
    threads: bool = True
    """A long text may go out as a thread of replies to itself."""
    content_warning: bool = False
    """It has a field of its own for a content warning (Mastodon's ``spoiler_text``)."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results; ``cursor`` asks for the next, ``None`` when there is no more."""

    items: Sequence[T]
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Delivered:
    """A direct message as the network took it: its id, and where answers to it come
    (:attr:`thread`): a Matrix room, a Bluesky conversation, a Telegram chat, or the message
    itself (a Mastodon status, an email's ``Message-ID``: the same as the id); empty where
    the network names no such place (XMPP)."""

    id: str
    thread: str = ""


MAX_ANSWERS = 100
"""The most answers to one direct message read at once: the newest."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A message the recipient of a direct message wrote back on the same network."""

    id: str
    """The network's id for it: the same answer read twice has the same id."""
    text: str
    written_at: datetime
    url: str | None = None
    """Where it can be opened on the network, where it has an address."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a linked account needs to act for its owner. The portal stores it encrypted."""

    access_token: str = ""
    refresh_token: str = ""
    expires_at: datetime | None = None
    scope: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Linked:
    """The outcome of proving an account: who it is, and what acts for them from now on."""

    actor: Actor
    credentials: Credentials


@dataclass(frozen=True, slots=True)
class OAuthServer:
    """An authorization server's endpoints (RFC 8414 metadata, or a network's fixed paths)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None = None
    jwks_uri: str | None = None
    userinfo_endpoint: str | None = None
    pushed_authorization_request_endpoint: str | None = None
    scopes_supported: tuple[str, ...] = ()
    token_endpoint_auth_methods_supported: tuple[str, ...] = ()
    """How a client proves itself at the token endpoint (RFC 8414): ``client_secret_basic``
    when this is empty or names it, else ``client_secret_post`` (the secret in the form, as
    Meta takes it); a client without a secret names itself in the form (``none``)."""


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """This portal as a client of one server: registered by hand, or dynamically per server."""

    client_id: str
    client_secret: str | None
    redirect_uri: str


# -- what a portal decides -------------------------------------------------------------------


class Kept:
    """Public facts about servers that connectors learned and may use again for a while, such
    as a Mastodon instance's limits: never a person's data, nor anything asked with their
    token. At most ``size`` facts are kept, the one used least recently dropped first."""

    def __init__(self, size: int = 1_000, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self._clock = clock
        self._facts: OrderedDict[Hashable, tuple[object, float]] = OrderedDict()

    def get(self, key: Hashable) -> object | None:
        """The fact kept under ``key``; ``None`` when there is none, or it is too old."""
        found = self._facts.get(key)
        if found is None:
            return None
        if found[1] <= self._clock():
            del self._facts[key]
            return None
        self._facts.move_to_end(key)
        return found[0]

    def clear(self) -> None:
        """Forget every fact."""
        self._facts.clear()

    def put(self, key: Hashable, fact: object, seconds: float) -> None:
        """Keep ``fact`` under ``key`` for ``seconds``."""
        self._facts[key] = (fact, self._clock() + seconds)
        self._facts.move_to_end(key)
        while len(self._facts) > self.size:
            self._facts.popitem(last=False)


def _public_resolver() -> Resolver:
    # Imported here, and the context made only after the types above: the resolver's module
    # imports those from this one.
    from connectors.atproto import Resolver

    return Resolver()


@dataclass(frozen=True)
class Context:
    """What the portal decides for the connections of every connector, built once per portal
    and handed to each connector call (the constructor, and the class methods that read a
    server's name or talk to a network).

    Connectors keep no configuration of their own, so two portals in one process, or a test
    beside a running portal, never see each other's rules.
    """

    addresses: AddressPolicy = field(default_factory=AddressPolicy)
    """The one address rule set of every connection: HTTP (the client the portal builds from
    it) and the connections that are not HTTP (XMPP)."""
    resolver: Resolver = field(default_factory=_public_resolver)
    """How AT Protocol handles and DIDs are resolved (the PLC directory, a resolving service)."""
    xmpp_server: Server | None = None
    """Development: route every XMPP connection to this server instead of the domain's."""
    media_poll_interval: float = 1.0
    media_poll_timeout: float = 120.0
    """How often, and how long, to ask whether an uploaded picture or video is processed."""
    telegram_bot_token: str = field(default="", repr=False)
    """The token of the portal's own Telegram bot (the Login Widget's), which posts into
    channels and groups for the people who run them; empty where the portal has none. A
    secret: kept out of ``repr``, and never put in an error or a log."""
    media_url: Callable[[Upload], Awaitable[str]] | None = None
    """A public address where the network can fetch a picture the portal holds, for networks
    that take pictures only by address (Instagram); ``None`` where the portal serves none."""
    kept: Kept | None = None
    """Where connectors keep what they learned of servers, for this portal's next calls (a
    worker delivering to an instance every minute asks for its limits once an hour); ``None``:
    nothing is kept, every call asks again."""

    @property
    def allow_loopback(self) -> bool:
        """Development: servers on this machine (``localhost:port``, over http) may be named."""
        return self.addresses.allow_loopback


PUBLIC = Context()
"""The rules of a portal that reaches only public addresses: what a connector uses when it
is given no context (tests of pure functions, tools)."""


# -- the interface ---------------------------------------------------------------------------

_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]")
_INVISIBLE = re.compile(
    r"[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    r"\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufeff\uffa0]"
)
"""Characters that show nothing: controls, zero-width spaces and joiners, direction marks and
overrides, the soft hyphen, and the fillers used to make names that look empty."""

_LINE_BREAKS = re.compile(r"[\t\n\v\f\r\u0085\u2028\u2029]")


class Connector:
    """The base of every network. Override the constants and the methods your flags promise."""

    NAME: ClassVar[str]
    """Registry key and URL slug, lowercase ASCII: ``"mastodon"``."""
    LABEL: ClassVar[str]
    """What people call the network: ``"Mastodon"``."""
    AUTH: ClassVar[AuthKind] = "none"
    SCOPES: ClassVar[tuple[str, ...]] = ()
    HANDLE_LABEL: ClassVar[str] = "Username"
    HANDLE_EXAMPLE: ClassVar[str] = ""
    """Shown as the placeholder of the handle field: what a valid handle looks like."""

    CAN_VERIFY: ClassVar[bool] = False
    """It can tell who the credentials belong to (:meth:`get_actor`)."""
    CAN_READ: ClassVar[bool] = False
    """It can read the account's posts (:meth:`get_posts`)."""
    CAN_PUBLISH: ClassVar[bool] = False
    """It can publish a post (:meth:`publish`) under :attr:`POST_RULES`."""
    CAN_DELETE: ClassVar[bool] = False
    """It can take a published post down (:meth:`delete_post`)."""
    CAN_EDIT: ClassVar[bool] = False
    """It can change the text of a published post (:meth:`edit_post`)."""
    CAN_BACKFEED: ClassVar[bool] = False
    """It can read what people did with a published post (:meth:`responses`)."""
    ANSWERS_COME_TO_BOT: ClassVar[bool] = False
    """Answers to its published posts are not listed on request but come to the portal's
    bot as they are made (Telegram's comments, :mod:`connectors.telegram._updates`)."""
    CAN_MESSAGE: ClassVar[bool] = False
    """It can send a direct message (:meth:`send_message`)."""
    MESSAGES_BY_BOT: ClassVar[bool] = False
    """The portal's own bot writes to people on it, for whoever writes, where people cannot
    write through an API as themselves (Telegram, :mod:`connectors.telegram._direct`)."""
    CAN_READ_ANSWERS: ClassVar[bool] = False
    """It can read what the recipient of a direct message wrote back (:meth:`answers`)."""
    CAN_WITHDRAW: ClassVar[bool] = False
    """It can take a direct message back from the recipient (:meth:`withdraw_message`)."""
    MESSENGER: ClassVar[bool] = False
    """People write to each other on it: its owner may offer the account for being messaged
    through Portal, in the order they choose (``portal.domain.reach``)."""
    CAN_UPLOAD_MEDIA: ClassVar[bool] = False
    """It can attach pictures (:meth:`upload_media`)."""
    LINK_ONLY: ClassVar[bool] = False
    """It only holds a handle with links: nothing to connect to."""

    MAX_TEXT_LENGTH: ClassVar[int | None] = None
    TEXT_COUNTING: ClassVar[TextCounting] = "characters"
    POST_RULES: ClassVar[PostRules | None] = None
    """What one post may hold (set with ``CAN_PUBLISH``)."""
    RULES_FROM_SERVER: ClassVar[bool] = False
    """:meth:`post_rules` reads the account's server, whose own limits may differ from
    :attr:`POST_RULES` (a Mastodon instance's ``max_characters``): public settings, read with
    no token, the same for every account of that server. A caller may ask once per server and
    keep the answer a while; :meth:`post_rules` gives :attr:`POST_RULES` where the server tells
    nothing."""
    PUBLISHES_TO: ClassVar[str] = ""
    """What :attr:`Draft.destination` names where the network posts into a place (``"room"``,
    ``"channel"``, ``"page"``); empty where a post goes on the account's own timeline."""

    def __init__(
        self,
        handle: str,
        credentials: Credentials,
        http: httpx.AsyncClient,
        *,
        context: Context = PUBLIC,
    ) -> None:
        self.handle = handle
        self.credentials = credentials
        self.http = http
        self.context = context

    # -- handles (no account needed) --

    @classmethod
    def normalize_handle(cls, raw: str, *, context: Context = PUBLIC) -> str:
        """The one canonical spelling of a handle, or :class:`InvalidHandle` saying why not."""
        raise NotImplementedError

    @classmethod
    def profile_url(cls, handle: str) -> str | None:
        """The public web page of a normalised handle, when the network has one."""
        return None

    @classmethod
    def deep_link(cls, handle: str) -> str | None:
        """A link that opens the handle in the network's app; the web page when there is none."""
        return cls.profile_url(handle)

    @classmethod
    def message_link(cls, handle: str, text: str) -> str | None:
        """A link that opens a chat with ``handle`` in the network's app, for a messenger
        Portal cannot write on itself: with ``text`` written in where the app takes it
        (:attr:`FILLS_IN_TEXT`), else the chat alone; ``None`` for other networks."""
        return cls.deep_link(handle) if cls.MESSENGER else None

    FILLS_IN_TEXT: ClassVar[bool] = False
    """:meth:`message_link` opens the chat with the text written in."""

    @classmethod
    def display_handle(cls, handle: str) -> str:
        """How a handle is written for people (``@ada`` where the network writes it so)."""
        return handle

    @classmethod
    def public_feed(
        cls, handle: str, server: str = "", *, known: Mapping[str, Any] | None = None
    ) -> str | None:
        """Where anyone may read the account's public posts, without signing in: the address
        of a feed (RSS, Atom, JSON Feed, or an answer the portal's feed reader knows), or of
        a public page that names its feed; ``None`` when the network offers none.

        ``server`` is the server the account lives on where the network has many, and
        ``known`` what the proof of the account kept of it (:attr:`Credentials.extra`: an
        AT Protocol account's DID and PDS, say): some feeds can only be named from those."""
        return None

    @classmethod
    def count_text(cls, text: str) -> int:
        """The length of a text as this network counts it against :attr:`MAX_TEXT_LENGTH`."""
        return count_text(text, cls.TEXT_COUNTING)

    # -- what the flags promise --

    async def get_actor(self) -> Actor:
        """Who the credentials belong to, as the network says (``CAN_VERIFY``)."""
        raise NotImplementedError

    async def get_posts(self, cursor: str | None = None, limit: int = 20) -> Page[Post]:
        """The account's recent posts, newest first (``CAN_READ``)."""
        raise NotImplementedError

    async def post_rules(self) -> PostRules:
        """What one post of this account may hold: :attr:`POST_RULES`, or what its server says
        where servers differ (a Mastodon instance's own limit)."""
        if self.POST_RULES is None:
            raise NotImplementedError
        return self.POST_RULES

    async def publish(self, draft: Draft, idempotency_key: str) -> Published:
        """Publish one post of a draft already adapted to :attr:`POST_RULES` (``CAN_PUBLISH``).

        Called again with the same key, after a crash or a lost answer, it must not publish a
        second copy: it sends the key where the network takes one, derives the post's id
        from it where the network lets the client choose, or finds the first copy."""
        raise NotImplementedError

    async def delete_post(self, published: Published, destination: str = "") -> None:
        """Take a published post down; gone already counts as done (``CAN_DELETE``)."""
        raise NotImplementedError

    async def edit_post(self, published: Published, draft: Draft) -> None:
        """Replace the text of a published post with the draft's (``CAN_EDIT``)."""
        raise NotImplementedError

    async def responses(self, published: Published, destination: str = "") -> list[Response]:
        """The replies, quotes, reposts and likes of a post this account published
        (``CAN_BACKFEED``): the newest the network gives, not its whole history."""
        raise NotImplementedError

    async def send_message(
        self,
        to: str,
        text: str,
        key: str = "",
        *,
        again: bool = False,
        picture: Upload | None = None,
    ) -> Delivered:
        """Send a direct message to a handle on this network (``CAN_MESSAGE``). ``key``, the
        same for every try of one message, is sent where the network takes one, so that a
        try repeated after a lost answer does not deliver it twice; ``again`` says a try
        before may have gone out unrecorded, where a network must be asked first.
        ``picture``, one picture that goes with the text: attached where the network takes
        one in a message; elsewhere its address (:attr:`Upload.url`) follows the text."""
        raise NotImplementedError

    async def answers(self, to: str, delivered: Delivered, since: datetime) -> list[Answer]:
        """What ``to`` wrote to this account since ``since`` in the conversation of a message
        sent with :meth:`send_message`, oldest first, at most the newest hundred
        (``CAN_READ_ANSWERS``). Only the recipient's own messages count, never the account's."""
        raise NotImplementedError

    async def message_read(self, to: str, delivered: Delivered) -> bool:
        """Whether ``to`` is known to have read the message (a Matrix read receipt, a Mastodon
        favourite, an XMPP displayed marker); ``False`` where the network does not say."""
        return False

    async def withdraw_message(self, to: str, delivered: Delivered) -> None:
        """Take a sent direct message back, so that ``to`` no longer sees it where their
        client follows the network's rules (``CAN_WITHDRAW``); gone already counts as done."""
        raise NotImplementedError

    async def upload_media(self, media: Media, data: bytes) -> str:
        """Upload a picture and return the network's id for it (``CAN_UPLOAD_MEDIA``)."""
        raise NotImplementedError

    async def revoke(self) -> bool:
        """Tell the network to forget the credentials; ``False`` where it offers no way to."""
        return False

    # -- linking by signing in (AUTH == "password") --

    @classmethod
    async def sign_in(
        cls, handle: str, secret: str, http: httpx.AsyncClient, *, context: Context = PUBLIC
    ) -> Linked:
        """Prove an account by signing in to it; keep the least that acts for it afterwards."""
        raise NotImplementedError

    # -- linking by OAuth (AUTH in "oauth2", "oidc") --

    @classmethod
    async def oauth_server(
        cls, server: str, http: httpx.AsyncClient, *, context: Context = PUBLIC
    ) -> OAuthServer:
        """The endpoints of the authorization server for ``server`` (an instance, an issuer)."""
        raise NotImplementedError

    @classmethod
    def server_name(cls, raw: str, *, context: Context = PUBLIC) -> str:
        """The server a person names to link an account on (networks of many servers): its
        host name, or what else the network lets a person name it by."""
        return normalize_server(raw, allow_loopback=context.allow_loopback)

    @classmethod
    def oauth_scopes(cls, server: OAuthServer) -> tuple[str, ...]:
        """The scopes to register and to ask for on ``server``: :attr:`SCOPES` unless the
        network's servers differ in what they offer."""
        return cls.SCOPES

    OAUTH_RETURNS: ClassVar[tuple[str, ...]] = ()
    """What else of the authorization server's answer the token requests need (VK ID sends
    the person back with a ``device_id``), kept when the person comes back."""

    @classmethod
    def token_parameters(cls, grant_type: str, kept: Mapping[str, Any]) -> dict[str, str]:
        """What else a token request of ``grant_type`` sends: ``kept`` holds the answer's
        :attr:`OAUTH_RETURNS` for an ``authorization_code``, and the account's
        :attr:`Credentials.extra` for a ``refresh_token``."""
        return {}

    @classmethod
    async def oauth_linked(
        cls,
        answer: Mapping[str, Any],
        credentials: Credentials,
        returned: Mapping[str, str],
        client: OAuthClient,
        http: httpx.AsyncClient,
        *,
        context: Context = PUBLIC,
    ) -> Credentials:
        """What to keep of a new link: the ``credentials`` of the token endpoint's ``answer``
        as they are, or what the network makes of them (a longer-lived token, the places the
        account publishes to, what its next requests must repeat)."""
        return credentials

    @classmethod
    async def register_client(
        cls,
        server: str,
        redirect_uri: str,
        http: httpx.AsyncClient,
        *,
        scopes: Sequence[str],
        context: Context = PUBLIC,
    ) -> OAuthClient:
        """Register this portal as a client of ``server`` allowed to ask for ``scopes``, for
        networks that need one per server."""
        raise NotImplementedError


CAPABILITY_METHODS: dict[str, tuple[str, ...]] = {
    "CAN_VERIFY": ("get_actor",),
    "CAN_READ": ("get_posts",),
    "CAN_PUBLISH": ("publish",),
    "CAN_DELETE": ("delete_post",),
    "CAN_EDIT": ("edit_post",),
    "CAN_BACKFEED": ("responses",),
    "CAN_MESSAGE": ("send_message",),
    "CAN_READ_ANSWERS": ("answers",),
    "CAN_WITHDRAW": ("withdraw_message",),
    "CAN_UPLOAD_MEDIA": ("upload_media",),
}
"""Which methods each flag promises: a connector overrides them exactly when its flag is set."""


def capabilities(connector: type[Connector]) -> list[str]:
    """The flags a connector sets, as short lowercase names (``verify``, ``read``, …)."""
    names = [flag for flag in CAPABILITY_METHODS if getattr(connector, flag)]
    if connector.LINK_ONLY:
        names.append("LINK_ONLY")
    return [name.removeprefix("CAN_").lower() for name in names]


def idempotency_key(value: str) -> str:
    """A key given to :meth:`Connector.publish`, checked: up to 200 printable ASCII
    characters (what Mastodon's ``Idempotency-Key`` takes, the strictest of the networks)."""
    key = value.strip() if isinstance(value, str) else ""
    if not key or len(key) > 200 or not (key.isascii() and key.isprintable()):
        raise PermanentError("Publishing needs a key of up to 200 characters to happen once.")
    return key


# -- shared helpers for handles --------------------------------------------------------------


def clean(raw: str, *, max_length: int = 200) -> str:
    """A handle as typed, made comparable: NFKC, no invisible characters, no outer spaces."""
    if not isinstance(raw, str):
        raise InvalidHandle("Enter the handle as text.")
    if len(raw) > 4 * max_length:
        raise InvalidHandle(f"This is too long for a handle (at most {max_length} characters).")
    if _CONTROL.search(raw):
        raise InvalidHandle("A handle cannot contain control characters.")
    text = unicodedata.normalize("NFKC", raw)
    # Tabs and line breaks separate words, so "ada\nlovelace" is two words, not "adalovelace".
    text = _INVISIBLE.sub("", _LINE_BREAKS.sub(" ", text)).strip()
    if not text:
        raise InvalidHandle("Enter a handle.")
    if len(text) > max_length:
        raise InvalidHandle(f"This is too long for a handle (at most {max_length} characters).")
    return text


def path_from_url(text: str, hosts: Sequence[str]) -> str | None:
    """The path of a profile address on one of ``hosts`` (``www.`` and ``m.`` allowed).

    Returns ``None`` when ``text`` is not an address at all, and raises :class:`InvalidHandle`
    when it is an address of another site, so ``https://evil.example/ada`` never becomes ``ada``.
    """
    candidate = text
    if "://" not in candidate:
        first = candidate.split("/", 1)[0].lower()
        if "/" not in candidate or "." not in first:
            return None
        candidate = "https://" + candidate
    try:
        parts = urlsplit(candidate)
    except ValueError as error:
        raise InvalidHandle("This address cannot be read.") from error
    if parts.scheme not in ("http", "https"):
        raise InvalidHandle("Give a web address that starts with https://.")
    if "@" in parts.netloc or "\\" in candidate:
        # https://instagram.com@evil.example/ leads to evil.example: never read it as a profile.
        raise InvalidHandle("This address hides where it leads, so it is not accepted.")
    host = site_of(parts.hostname or "", hosts)
    if host not in hosts:
        raise InvalidHandle(f"This is not an address on {' or '.join(hosts)}.")
    return parts.path.strip("/")


def site_of(host: str, hosts: Sequence[str]) -> str:
    """The site a host name is part of: ``www.``, ``m.`` and ``mobile.`` removed, unless the
    host is itself one of ``hosts`` (``m.me`` is a site of its own, not the mobile site of
    ``me``)."""
    host = host.lower().rstrip(".")
    for prefix in ("www.", "m.", "mobile."):
        if host not in hosts:
            host = host.removeprefix(prefix)
    return host


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_host(raw: str) -> str:
    """A DNS host name, lowercased and IDNA-encoded, or :class:`InvalidHandle`."""
    host = raw.strip().rstrip(".").lower()
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise InvalidHandle(f"{raw[:80]!r} is not a valid server name.") from error
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidHandle(f"{raw[:80]!r} is not a valid server name, like example.org.")
    if labels[-1].isdigit():
        raise InvalidHandle("Give the server's name, not its IP address.")
    return host


def normalize_server(raw: str, *, allow_loopback: bool = False) -> str:
    """The server a person names (``mastodon.social``, or its address): ``host`` or ``host:port``.

    A port, and the names ``localhost`` and ``127.0.0.1``, are accepted only with
    ``allow_loopback`` (a development portal talking to servers on the same machine).
    """
    text = clean(raw, max_length=260)
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or parts.username or parts.password:
            raise InvalidHandle("Give the server's name, like mastodon.social.")
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise InvalidHandle("Give only the server's name, like mastodon.social, with no path.")
        text = parts.netloc
    text = text.strip("/")
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    if port and not allow_loopback:
        raise InvalidHandle("Give the server's name without a port, like mastodon.social.")
    if port and (not port.isdigit() or not 0 < int(port) < 65536):
        raise InvalidHandle("This server's port is not a number from 1 to 65535.")
    if allow_loopback and host.lower() in ("localhost", "127.0.0.1"):
        return f"{host.lower()}:{port}" if port else host.lower()
    normalized = normalize_host(host)
    return f"{normalized}:{port}" if port else normalized


def server_url(server: str) -> str:
    """The base URL of a normalised server: https, or http for a loopback development one."""
    host = server.rsplit(":", 1)[0] if ":" in server else server
    scheme = "http" if host in ("localhost", "127.0.0.1") else "https"
    return f"{scheme}://{server}"


def url_quote(handle: str) -> str:
    return quote(handle, safe="@._-+~")


# -- text length -----------------------------------------------------------------------------

_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_AFTER_URL = ".,:;!?'\")]"
"""A link as X finds one in a text: up to the next space, without the punctuation after it."""

_TWITTER_URL_LENGTH = 23
_TWITTER_LIGHT = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
"""Code points X counts once (Latin, Greek, Cyrillic, Arabic, Hebrew, Indic scripts, some
punctuation); every other code point counts twice, as does every emoji."""

_GRAPHEME = regex.compile(r"\X")
_EMOJI = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}\u20e3]")


def count_text(text: str, counting: TextCounting) -> int:
    """Count a text the way a network does.

    ``graphemes`` counts user-perceived characters (Bluesky's 300), ``utf16`` counts UTF-16
    code units (JavaScript's ``length``), ``bytes`` counts UTF-8 bytes, ``twitter`` weighs a
    text as X does, and ``characters`` counts code points.
    """
    if counting == "bytes":
        return len(text.encode("utf-8", "surrogatepass"))
    if counting == "utf16":
        return len(text.encode("utf-16-le", "surrogatepass")) // 2
    if counting == "twitter":
        return _count_twitter(text)
    if counting == "graphemes":
        return _count_graphemes(text)
    return len(text)


def _count_graphemes(text: str) -> int:
    """Extended grapheme clusters (Unicode UAX #29, https://www.unicode.org/reports/tr29/).

    One cluster is what a reader sees as one character: a letter with its accents, a Hangul
    syllable written in jamo, an Indic conjunct, a flag (two regional indicators), an emoji
    with its skin tone or a family joined by zero-width joiners, ``\\r\\n``. The ``regex``
    module implements the rules of the Unicode version it ships with, as browsers'
    ``Intl.Segmenter`` does.
    """
    return len(_GRAPHEME.findall(text))


def _count_twitter(text: str) -> int:
    """The weighted length X compares with its 280 (developer.x.com, "Counting characters";
    the rules of twitter-text's v3 configuration, https://github.com/twitter/twitter-text).

    The text is NFC-normalised; every link counts 23, whatever its length (X shortens it to a
    t.co link); every emoji counts 2, however many code points make it; any other code point
    counts 1 inside the ranges of :data:`_TWITTER_LIGHT` and 2 outside them (so CJK text has
    half the room).
    """
    text = unicodedata.normalize("NFC", text)
    total = 0
    position = 0
    for match in _URL.finditer(text):
        total += _weigh(text[position : match.start()]) + _TWITTER_URL_LENGTH
        url = match.group()
        end = len(url.rstrip(_AFTER_URL))
        # A closing bracket belongs to the link when it closes one opened inside it.
        unclosed = url.count("(", 0, end) - url.count(")", 0, end)
        while end < len(url) and url[end] == ")" and unclosed > 0:
            end += 1
            unclosed -= 1
        position = match.start() + end
    return total + _weigh(text[position:])


def _weigh(text: str) -> int:
    total = 0
    for cluster in _GRAPHEME.findall(text):
        if _EMOJI.search(cluster):
            total += 2
            continue
        for char in cluster:
            code = ord(char)
            total += 1 if any(low <= code <= high for low, high in _TWITTER_LIGHT) else 2
    return total
