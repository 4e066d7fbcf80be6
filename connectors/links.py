"""Networks the portal only links to: a handle checked against each network's rules, and links.

Messengers are in :mod:`connectors.messengers` and :mod:`connectors.whatsapp`. Facebook,
Instagram and VK, which Portal can also post to, have modules of their own
(:mod:`connectors.facebook`, :mod:`connectors.instagram`, :mod:`connectors.vk`) with the same
handle rules.

Why each looks like it does (the network's own words, where it publishes them):

- Threads usernames are Instagram usernames: at most 30 letters, digits, periods and
  underscores (Instagram Help Center, https://help.instagram.com/); Threads profiles live at
  ``threads.com/@name`` (formerly ``threads.net``, which still redirects).
- X usernames: at most 15 letters, digits and underscores (X Help Center,
  https://help.x.com/); ``twitter.com`` addresses still work.
- YouTube handles: 3 to 30 letters or digits of 75 languages, underscores, hyphens, periods and
  Latin middle dots (https://support.google.com/youtube/answer/11585688); channels without one
  are ``/channel/UC…`` ids, 24 characters and case-sensitive.
- TikTok: letters, digits, underscores and periods, not ending with a period
  (https://support.tiktok.com/en/getting-started/setting-up-your-profile/changing-your-username).
- Snapchat: 3 to 15 characters, starting with a letter, ending with a letter or digit, with
  ``-``, ``_`` and ``.`` (Snap's law enforcement guide); ``snapchat.com/add/<name>``.
- Reddit: 3 to 20 letters, digits, ``_`` and ``-``; written ``u/name``.
- GitHub: at most 39 letters, digits and single hyphens, not at either end (the rule its sign-up
  form states). GitHub shows the links of a profile with ``rel="me"``, so a GitHub account can
  be verified by a link back (``AUTH = "link"``), as can a personal website.
- GitLab: ``Gitlab::PathRegex`` (https://gitlab.com/gitlab-org/gitlab/-/blob/master/lib/gitlab/
  path_regex.rb): letters, digits, ``_``, ``-`` and ``.``, not starting with ``-``, not ending in
  ``.``, ``.git`` or ``.atom``; at most 255.
- Twitch: 4 to 25 letters, digits and underscores (Twitch Help, https://help.twitch.tv/).
- Pinterest: 3 to 30 letters, digits and underscores.
- Tumblr blog names: at most 32 letters, digits and hyphens (https://help.tumblr.com/, "Changing
  your username"); some old blogs keep a hyphen at an end.
- Pixelfed is federated: ``user@server``; a username is 2 to 30 letters and digits with at most
  one ``-``, ``_`` or ``.`` inside (``App\\Rules\\ValidUsername``,
  https://github.com/pixelfed/pixelfed); the profile is ``https://<server>/<user>``.
- Keybase: 2 to 16 letters, digits and single underscores, not starting with one
  (``CheckUsername`` in https://github.com/keybase/client).
- SoundCloud profile addresses: 3 to 25 lowercase letters, digits, ``_`` and ``-``, not at the
  ends and never two in a row.
- Flickr profiles are ``/people/<id>`` with the account's NSID (``12345678@N01``) or the custom
  address chosen for it (https://www.flickr.com/services/api/misc.urls.html).
- Odnoklassniki: numeric ids (``ok.ru/profile/<number>``) or a chosen short address of Latin
  letters, digits, ``_`` and ``.``.
- LinkedIn public profile addresses: 3 to 100 letters or digits (hyphens in assigned ones),
  case-insensitive (https://www.linkedin.com/help/linkedin/answer/87).
- Medium profiles are ``medium.com/@name`` or ``name.medium.com``.
- A personal website is any public http(s) address; see :func:`normalize_web_url`.

Public feeds (:meth:`~connectors.base.Connector.public_feed`), where a network publishes one:
GitHub's and GitLab's public activity as Atom at ``/<user>.atom``; Reddit's posts and comments
of a user at ``/user/<name>/.rss``; a Tumblr blog's RSS at ``<blog>.tumblr.com/rss``; Medium's
at ``medium.com/feed/@<name>``; Pixelfed's at ``/users/<user>.atom``; YouTube's at
``/feeds/videos.xml?channel_id=UC…``, named by the channel's id, so a handle's channel page,
which links to it, stands for it; a website's page, which links to its own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import unquote

from connectors._profile import ProfileLink, normalize_web_url, split_address
from connectors.base import PUBLIC, Context, InvalidHandle, clean, normalize_host, url_quote
from connectors.instagram import USERNAME_PATTERN, USERNAME_RULES


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# -- social networks -------------------------------------------------------------------------


class Threads(ProfileLink):
    NAME = "threads"
    LABEL = "Threads"
    HANDLE_EXAMPLE = "ada.lovelace"
    AT_SIGN = True
    HANDLE_PATTERN = USERNAME_PATTERN
    RULES = "A Threads username is an Instagram username. " + USERNAME_RULES
    HOSTS = ("threads.com", "threads.net")
    PROFILE_PATHS = (
        r"@(?P<handle>[^/]+)",
        r"@(?P<handle>[^/]+)/(?:replies|media|reposts|post/[A-Za-z0-9_-]+)",
    )
    PROFILE_URL = "https://www.threads.com/@{handle}"


class X(ProfileLink):
    NAME = "x"
    LABEL = "X"
    HANDLE_EXAMPLE = "ada_lovelace"
    AT_SIGN = True
    HANDLE_PATTERN = r"[a-z0-9_]{1,15}"
    RULES = "An X username has at most 15 characters: letters, digits and underscores."
    HOSTS = ("x.com", "twitter.com")
    PROFILE_PATHS = (
        r"(?P<handle>[^/]+)",
        r"(?P<handle>[^/]+)/(?:with_replies|media|likes|highlights|articles|followers|"
        r"following|verified_followers|photo|header_photo)",
    )
    RESERVED = _words(
        "home i search explore settings notifications messages compose intent share "
        "hashtag login logout signup tos privacy jobs"
    )
    PROFILE_URL = "https://x.com/{handle}"

    @classmethod
    def handle_from_path(cls, path: str, query: dict[str, list[str]]) -> str | None:
        if path in ("intent/user", "intent/follow") and query.get("screen_name"):
            return query["screen_name"][0]
        return super().handle_from_path(path, query)


class Odnoklassniki(ProfileLink):
    NAME = "odnoklassniki"
    LABEL = "Odnoklassniki"
    HANDLE_LABEL = "Profile number or short address"
    HANDLE_EXAMPLE = "574281163542"
    HANDLE_PATTERN = r"[1-9][0-9]{0,19}|(?!.*\.\.)(?=.*[a-z])[a-z0-9](?:[a-z0-9_.]{0,48}[a-z0-9_])?"
    RULES = (
        "An Odnoklassniki profile is its number (ok.ru/profile/…) or a short address of "
        "Latin letters, digits, underscores and periods."
    )
    HOSTS = ("ok.ru", "odnoklassniki.ru")
    PROFILE_PATHS = (
        r"profile/(?P<handle>[0-9]+)",
        r"(?P<handle>[^/]+)",
    )
    RESERVED = _words(
        "profile group groups feed music video messages friends game games app apps dk "
        "search settings guests photos notes gifts live online events help shop payment"
    )

    @classmethod
    def profile_url(cls, handle: str) -> str | None:
        if handle.isdigit():
            return "https://ok.ru/profile/" + handle
        return "https://ok.ru/" + url_quote(handle)


def _letters_digits(text: str, others: str) -> bool:
    """Whether ``text`` has only letters and digits of any script (with their combining marks)
    and the characters in ``others``."""
    return all(
        char.isalnum() or char in others or unicodedata.category(char).startswith("M")
        for char in text
    )


class LinkedIn(ProfileLink):
    NAME = "linkedin"
    LABEL = "LinkedIn"
    HANDLE_LABEL = "Public profile address"
    HANDLE_EXAMPLE = "ada-lovelace"
    RULES = (
        "A LinkedIn public profile address (what follows linkedin.com/in/) has 3 to 100 "
        "letters, digits and hyphens."
    )
    HOSTS = ("linkedin.com",)
    HOST_PATTERN = r"[a-z]{2}\.linkedin\.com"
    PROFILE_PATHS = (r"in/(?P<handle>[^/]+)(?:/.*)?",)
    PREFIXES = ("in/", "/in/")
    PROFILE_URL = "https://www.linkedin.com/in/{handle}/"

    @classmethod
    def check_handle(cls, candidate: str) -> str:
        handle = candidate.lower()
        if not 3 <= len(handle) <= 100 or not _letters_digits(handle, "-"):
            raise InvalidHandle(cls.RULES)
        return handle


class YouTube(ProfileLink):
    NAME = "youtube"
    LABEL = "YouTube"
    HANDLE_LABEL = "Handle"
    HANDLE_EXAMPLE = "@adalovelace"
    RULES = (
        "A YouTube handle has 3 to 30 letters, digits, underscores, hyphens and periods "
        "(a channel without one is its id, UC and 22 more characters)."
    )
    HOSTS = ("youtube.com", "music.youtube.com")
    PROFILE_PATHS = (
        r"(?P<handle>@[^/]+)(?:/.*)?",
        r"channel/(?P<handle>UC[A-Za-z0-9_-]{22})(?:/.*)?",
    )
    _CHANNEL: ClassVar[re.Pattern[str]] = re.compile(r"UC[A-Za-z0-9_-]{22}")

    @classmethod
    def check_handle(cls, candidate: str) -> str:
        if cls._CHANNEL.fullmatch(candidate):
            return candidate  # a channel id: case matters
        handle = candidate.removeprefix("@").lower()
        if not 3 <= len(handle) <= 30 or not _letters_digits(handle, "_-.·"):
            raise InvalidHandle(cls.RULES)
        return handle

    @classmethod
    def profile_url(cls, handle: str) -> str | None:
        if cls._CHANNEL.fullmatch(handle):
            return "https://www.youtube.com/channel/" + handle
        return "https://www.youtube.com/@" + url_quote(handle)

    @classmethod
    def display_handle(cls, handle: str) -> str:
        return handle if cls._CHANNEL.fullmatch(handle) else "@" + handle

    @classmethod
    def public_feed(
        cls, handle: str, server: str = "", *, known: Mapping[str, Any] | None = None
    ) -> str | None:
        """A channel's feed is named by its id; a handle's channel page names that feed."""
        if cls._CHANNEL.fullmatch(handle):
            return "https://www.youtube.com/feeds/videos.xml?channel_id=" + handle
        return cls.profile_url(handle)


class TikTok(ProfileLink):
    NAME = "tiktok"
    LABEL = "TikTok"
    HANDLE_EXAMPLE = "ada.lovelace"
    AT_SIGN = True
    HANDLE_PATTERN = r"(?!.*\.$)[a-z0-9_.]{2,24}"
    RULES = (
        "A TikTok username has 2 to 24 letters, digits, underscores and periods, and does not "
        "end with a period."
    )
    HOSTS = ("tiktok.com",)
    PROFILE_PATHS = (
        r"@(?P<handle>[^/]+)",
        r"@(?P<handle>[^/]+)/(?:video|photo)/[0-9]+",
    )
    PROFILE_URL = "https://www.tiktok.com/@{handle}"


class Snapchat(ProfileLink):
    NAME = "snapchat"
    LABEL = "Snapchat"
    HANDLE_EXAMPLE = "ada.lovelace"
    PREFIXES = ("@",)
    HANDLE_PATTERN = r"[a-z][a-z0-9._-]{1,13}[a-z0-9]"
    RULES = (
        "A Snapchat username has 3 to 15 letters, digits, periods, hyphens and underscores, "
        "starts with a letter and ends with a letter or digit."
    )
    HOSTS = ("snapchat.com",)
    PROFILE_PATHS = (r"add/(?P<handle>[^/]+)", r"@(?P<handle>[^/]+)")
    PROFILE_URL = "https://www.snapchat.com/add/{handle}"


class Reddit(ProfileLink):
    NAME = "reddit"
    LABEL = "Reddit"
    HANDLE_EXAMPLE = "u/ada_lovelace"
    PREFIXES = ("/u/", "u/", "/user/", "user/", "@")
    DISPLAY_PREFIX = "u/"
    HANDLE_PATTERN = r"[a-z0-9_-]{3,20}"
    RULES = "A Reddit username has 3 to 20 letters, digits, underscores and hyphens."
    HOSTS = ("reddit.com", "old.reddit.com", "new.reddit.com")
    PROFILE_PATHS = (
        r"(?:u|user)/(?P<handle>[^/]+)(?:/(?:overview|submitted|comments|posts|about))?",
    )
    PROFILE_URL = "https://www.reddit.com/user/{handle}/"
    FEED_URL = "https://www.reddit.com/user/{handle}/.rss"


class Pinterest(ProfileLink):
    NAME = "pinterest"
    LABEL = "Pinterest"
    HANDLE_EXAMPLE = "ada_lovelace"
    AT_SIGN = True
    HANDLE_PATTERN = r"[a-z0-9_]{3,30}"
    RULES = "A Pinterest username has 3 to 30 letters, digits and underscores."
    HOSTS = (
        "pinterest.com",
        *sorted(
            "pinterest." + suffix
            for suffix in _words("co.uk ca com.au com.mx de fr es it pt at ch ie nz se dk jp cl ph")
        ),
    )
    HOST_PATTERN = r"[a-z]{2}\.pinterest\.com"
    PROFILE_PATHS = (
        r"(?P<handle>[^/]+)",
        r"(?P<handle>[^/]+)/_(?:created|saved|profile|boards|pins)",
    )
    RESERVED = _words("pin search ideas today business settings login explore")
    PROFILE_URL = "https://www.pinterest.com/{handle}/"


class Tumblr(ProfileLink):
    NAME = "tumblr"
    LABEL = "Tumblr"
    HANDLE_LABEL = "Blog name"
    HANDLE_EXAMPLE = "ada-lovelace"
    PREFIXES = ("@",)
    HANDLE_PATTERN = r"(?=.*[a-z0-9])[a-z0-9-]{1,32}"
    RULES = "A Tumblr blog name has at most 32 letters, digits and hyphens."
    HOSTS = ("tumblr.com",)
    SUBDOMAIN_OF = "tumblr.com"
    PROFILE_PATHS = (r"(?:blog/(?:view/)?)?(?P<handle>[^/]+)(?:/.*)?",)
    RESERVED = _words(
        "dashboard explore settings search tagged likes following inbox login register "
        "new blog help about policy docs privacy apps jobs api assets media static embed "
        "communities"
    )
    PROFILE_URL = "https://www.tumblr.com/{handle}"
    FEED_URL = "https://{handle}.tumblr.com/rss"


class Medium(ProfileLink):
    NAME = "medium"
    LABEL = "Medium"
    HANDLE_EXAMPLE = "ada.lovelace"
    AT_SIGN = True
    HANDLE_PATTERN = r"[a-z0-9_](?:[a-z0-9_.-]{0,28}[a-z0-9_])?"
    RULES = (
        "A Medium username has at most 30 letters, digits, underscores, hyphens and periods, "
        "not starting or ending with a period or hyphen."
    )
    HOSTS = ("medium.com",)
    SUBDOMAIN_OF = "medium.com"
    PROFILE_PATHS = (r"@(?P<handle>[^/]+)(?:/.*)?",)
    RESERVED = _words("help policy api about cdn miro status link")
    PROFILE_URL = "https://medium.com/@{handle}"
    FEED_URL = "https://medium.com/feed/@{handle}"


class Pixelfed(ProfileLink):
    NAME = "pixelfed"
    LABEL = "Pixelfed"
    HANDLE_LABEL = "Address"
    HANDLE_EXAMPLE = "ada@pixelfed.social"
    RULES = (
        "A Pixelfed address is the username and the server, like ada@pixelfed.social; the "
        "username has 2 to 30 letters and digits, with at most one hyphen, underscore or "
        "period inside."
    )
    _USER: ClassVar[re.Pattern[str]] = re.compile(r"(?=.{2,30}$)[a-z0-9]+(?:[-_.][a-z0-9]+)?")
    _PATH: ClassVar[re.Pattern[str]] = re.compile(r"(?:users/|@)?(?P<user>[^/]+)")

    @classmethod
    def normalize_handle(cls, raw: str, *, context: Context = PUBLIC) -> str:
        text = clean(raw, max_length=500)
        parts = split_address(text)
        if parts is not None:
            match = cls._PATH.fullmatch(unquote(parts.path.strip("/")))
            if not match:
                raise InvalidHandle(
                    "This Pixelfed address is not a profile page: give one like "
                    "https://pixelfed.social/ada, or the address ada@pixelfed.social."
                )
            user, server = match["user"], parts.hostname or ""
        else:
            user, at, server = text.removeprefix("@").partition("@")
            if not at:
                raise InvalidHandle(cls.RULES)
        user = user.lower()
        if not cls._USER.fullmatch(user):
            raise InvalidHandle(cls.RULES)
        return f"{user}@{normalize_host(server)}"

    @classmethod
    def profile_url(cls, handle: str) -> str | None:
        user, _, server = handle.partition("@")
        return f"https://{server}/{url_quote(user)}"

    @classmethod
    def public_feed(
        cls, handle: str, server: str = "", *, known: Mapping[str, Any] | None = None
    ) -> str | None:
        user, _, server = handle.partition("@")
        return f"https://{server}/users/{url_quote(user)}.atom"

    @classmethod
    def display_handle(cls, handle: str) -> str:
        return "@" + handle


# -- code, music, pictures -------------------------------------------------------------------


class GitHub(ProfileLink):
    NAME = "github"
    LABEL = "GitHub"
    AUTH = "link"
    HANDLE_EXAMPLE = "ada-lovelace"
    AT_SIGN = True
    HANDLE_PATTERN = r"[a-z0-9](?:-?[a-z0-9]){0,38}"
    RULES = (
        "A GitHub username has at most 39 letters, digits and single hyphens, and does not "
        "start or end with a hyphen."
    )
    HOSTS = ("github.com",)
    PROFILE_PATHS = (
        r"(?P<handle>[^/]+)",
        r"orgs/(?P<handle>[^/]+)(?:/.*)?",
    )
    RESERVED = _words(
        "about features pricing settings login join explore topics trending collections "
        "events marketplace sponsors orgs organizations notifications issues pulls search "
        "new apps enterprise security site contact codespaces team discussions"
    )
    PROFILE_URL = "https://github.com/{handle}"
    FEED_URL = "https://github.com/{handle}.atom"


class GitLab(ProfileLink):
    NAME = "gitlab"
    LABEL = "GitLab"
    HANDLE_EXAMPLE = "ada.lovelace"
    AT_SIGN = True
    HANDLE_PATTERN = r"(?!.*\.(?:git|atom)$)(?:[a-z0-9_.][a-z0-9_.-]{0,253}[a-z0-9_-]|[a-z0-9_])"
    RULES = (
        "A GitLab username has letters, digits, underscores, hyphens and periods; it does not "
        "start with a hyphen, nor end with a period, .git or .atom."
    )
    HOSTS = ("gitlab.com",)
    PROFILE_PATHS = (
        r"(?P<handle>[^/]+)",
        r"users/(?P<handle>[^/]+)(?:/.*)?",
    )
    RESERVED = _words(
        "explore users groups projects dashboard help admin search api public snippets"
    )
    PROFILE_URL = "https://gitlab.com/{handle}"
    FEED_URL = "https://gitlab.com/{handle}.atom"


class Keybase(ProfileLink):
    NAME = "keybase"
    LABEL = "Keybase"
    HANDLE_EXAMPLE = "ada_lovelace"
    HANDLE_PATTERN = r"(?=.{2,16}$)(?:[a-z0-9]_?)+"
    RULES = (
        "A Keybase username has 2 to 16 letters, digits and single underscores, and does not "
        "start with an underscore."
    )
    HOSTS = ("keybase.io",)
    RESERVED = _words("docs download blog team login signup account inv jobs")
    PROFILE_URL = "https://keybase.io/{handle}"


class Twitch(ProfileLink):
    NAME = "twitch"
    LABEL = "Twitch"
    HANDLE_EXAMPLE = "ada_lovelace"
    AT_SIGN = True
    HANDLE_PATTERN = r"[a-z0-9_]{4,25}"
    RULES = "A Twitch username has 4 to 25 letters, digits and underscores."
    HOSTS = ("twitch.tv",)
    PROFILE_PATHS = (
        r"(?P<handle>[^/]+)",
        r"(?P<handle>[^/]+)/(?:about|videos|schedule|clips|collections)",
    )
    RESERVED = _words(
        "directory videos settings search subscriptions inventory wallet drops downloads "
        "jobs login signup turbo"
    )
    PROFILE_URL = "https://www.twitch.tv/{handle}"


class SoundCloud(ProfileLink):
    NAME = "soundcloud"
    LABEL = "SoundCloud"
    HANDLE_LABEL = "Profile address"
    HANDLE_EXAMPLE = "ada-lovelace"
    HANDLE_PATTERN = r"(?!.*[-_]{2})[a-z0-9][a-z0-9_-]{1,23}[a-z0-9]"
    RULES = (
        "A SoundCloud profile address has 3 to 25 lowercase letters, digits, underscores and "
        "hyphens, neither at the ends nor two in a row."
    )
    HOSTS = ("soundcloud.com",)
    PROFILE_PATHS = (
        r"(?P<handle>[^/]+)",
        r"(?P<handle>[^/]+)/(?:tracks|albums|sets|reposts|popular-tracks|likes|following|"
        r"followers)",
    )
    RESERVED = _words(
        "discover stream upload you search charts pages settings messages notifications "
        "stations mobile jobs imprint people pro artists feed"
    )
    PROFILE_URL = "https://soundcloud.com/{handle}"


class Flickr(ProfileLink):
    NAME = "flickr"
    LABEL = "Flickr"
    HANDLE_LABEL = "Profile address or NSID"
    HANDLE_EXAMPLE = "ada-lovelace"
    HANDLE_PATTERN = r"[0-9]{1,20}@n[0-9]{2}|[a-z0-9_-]{1,50}"
    RULES = (
        "A Flickr profile is its NSID, like 12345678@N01, or its custom address of letters, "
        "digits, hyphens and underscores."
    )
    HOSTS = ("flickr.com",)
    PROFILE_PATHS = (r"(?:photos|people)/(?P<handle>[^/]+)(?:/.*)?",)
    RESERVED = frozenset({"me", "tags", "groups", "explore"})

    @classmethod
    def check_handle(cls, candidate: str) -> str:
        handle = super().check_handle(candidate)
        return handle.replace("@n", "@N")  # an NSID is written with a capital N

    @classmethod
    def profile_url(cls, handle: str) -> str | None:
        return f"https://www.flickr.com/people/{url_quote(handle)}/"


# -- the web ---------------------------------------------------------------------------------


class Website(ProfileLink):
    NAME = "website"
    LABEL = "Website"
    AUTH = "link"
    HANDLE_LABEL = "Address"
    HANDLE_EXAMPLE = "https://example.org/"

    @classmethod
    def normalize_handle(cls, raw: str, *, context: Context = PUBLIC) -> str:
        return normalize_web_url(raw, allow_loopback=context.allow_loopback)

    @classmethod
    def profile_url(cls, handle: str) -> str | None:
        return handle

    @classmethod
    def public_feed(
        cls, handle: str, server: str = "", *, known: Mapping[str, Any] | None = None
    ) -> str | None:
        """The site itself: its page names its feed, found when it is first read."""
        return handle

    @classmethod
    def display_handle(cls, handle: str) -> str:
        """The address without ``https://`` and without a lone trailing slash."""
        shown = handle.split("://", 1)[-1]
        return shown[:-1] if shown.endswith("/") and shown.count("/") == 1 else shown
