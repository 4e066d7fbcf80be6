"""Networks the portal only links to: a handle checked against each network's rules, and links.

Why each looks like it does (the network's own words, where it publishes them):

- Instagram and Threads share usernames: at most 30 letters, digits, periods and underscores
  (Instagram Help Center, https://help.instagram.com/); Threads profiles live at
  ``threads.com/@name`` (formerly ``threads.net``, which still redirects).
- Facebook usernames: letters, digits and periods, at least 5, periods and case not counted
  (https://www.facebook.com/help/105399436216001); profiles without a username are
  ``profile.php?id=<number>``. Messenger's ``m.me/<username>`` opens a chat
  (https://www.facebook.com/help/messenger-app/).
- X usernames: at most 15 letters, digits and underscores (X Help Center,
  https://help.x.com/); ``twitter.com`` addresses still work.
- YouTube handles: 3 to 30 letters or digits of 75 languages, underscores, hyphens, periods and
  Latin middle dots (https://support.google.com/youtube/answer/11585688); channels without one
  are ``/channel/UC…`` ids, 24 characters and case-sensitive.
- TikTok: letters, digits, underscores and periods, not ending with a period
  (https://support.tiktok.com/en/getting-started/setting-up-your-profile/changing-your-username).
- Snapchat: 3 to 15 characters, starting with a letter, ending with a letter or digit, with
  ``-``, ``_`` and ``.`` (Snap's law enforcement guide); ``snapchat.com/add/<name>``.
- Discord's usernames since 2023: 2 to 32 lowercase letters, digits, ``_`` and ``.``, never two
  periods in a row (https://support.discord.com/hc/en-us/articles/12620128861463). Discord has
  no public profile page, nor does WeChat (WeChat IDs: 6 to 20 letters, digits, ``_`` and
  ``-``, starting with a letter).
- Reddit: 3 to 20 letters, digits, ``_`` and ``-``; written ``u/name``.
- GitHub: at most 39 letters, digits and single hyphens, not at either end (the rule its sign-up
  form states). GitHub shows the links of a profile with ``rel="me"``, so a GitHub account can
  be verified by a link back (``AUTH = "link"``), as can a personal website.
- GitLab: ``Gitlab::PathRegex`` (https://gitlab.com/gitlab-org/gitlab/-/blob/master/lib/gitlab/
  path_regex.rb): letters, digits, ``_``, ``-`` and ``.``, not starting with ``-``, not ending in
  ``.``, ``.git`` or ``.atom``; at most 255.
- Twitch: 4 to 25 letters, digits and underscores (Twitch Help, https://help.twitch.tv/).
- Pinterest: 3 to 30 letters, digits and underscores.
- LINE IDs: at most 20 lowercase letters, digits, ``.``, ``-`` and ``_``; the add-friend link
  is ``https://line.me/ti/p/~<id>`` (https://help.line.me/).
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
- VK and Odnoklassniki: numeric ids (``vk.com/id1``, ``ok.ru/profile/<number>``) or a chosen
  short address of Latin letters, digits, ``_`` and ``.``.
- LinkedIn public profile addresses: 3 to 100 letters or digits (hyphens in assigned ones),
  case-insensitive (https://www.linkedin.com/help/linkedin/answer/87).
- Medium profiles are ``medium.com/@name`` or ``name.medium.com``.
- Signal: a username is a nickname of 3 to 32 letters, digits and underscores, not starting
  with a digit, a period and at least two digits (libsignal's ``usernames`` crate,
  https://github.com/signalapp/libsignal). Its share links (``signal.me/#eu/…``) are encrypted,
  so a username has no link; a phone number has ``https://signal.me/#p/<number>``.
- Viber is reached by phone number: ``viber://chat?number=%2B<number>`` opens the chat in the
  app (Viber's deep links, https://developers.viber.com/docs/tools/deep-links/); there is no
  web page.
- A personal website is any public http(s) address; see :func:`normalize_web_url`.
"""

from __future__ import annotations

import re
import unicodedata
from typing import ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from connectors._profile import (
    PhoneLink,
    ProfileLink,
    display_phone,
    normalize_phone,
    normalize_web_url,
    split_address,
)
from connectors.base import AuthKind, InvalidHandle, clean, normalize_host, url_quote


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# -- messengers ------------------------------------------------------------------------------


class Signal(ProfileLink):
    NAME: ClassVar[str] = "signal"
    LABEL: ClassVar[str] = "Signal"
    HANDLE_LABEL: ClassVar[str] = "Username or phone number"
    HANDLE_EXAMPLE: ClassVar[str] = "ada.42"
    PREFIXES: ClassVar[tuple[str, ...]] = ("@",)
    HANDLE_PATTERN: ClassVar[str] = r"[a-z_][a-z0-9_]{2,31}\.(?:0[1-9]|[1-9][0-9]{1,8})"
    RULES: ClassVar[str] = (
        "A Signal username is a name of 3 to 32 letters, digits and underscores, not starting "
        "with a digit, then a period and at least two digits, like ada.42."
    )
    HOSTS: ClassVar[tuple[str, ...]] = ("signal.me",)
    _PHONE_START: ClassVar[re.Pattern[str]] = re.compile(r"(?:tel:)?[+0-9(]")

    @classmethod
    def normalize_handle(cls, raw: str) -> str:
        text = clean(raw, max_length=500)
        parts = split_address(text)
        if parts is not None:
            if (parts.hostname or "").removeprefix("www.") not in cls.HOSTS:
                raise InvalidHandle("This is not an address on signal.me.")
            fragment = unquote(parts.fragment)
            if fragment.startswith("p/"):
                return normalize_phone(fragment[2:])
            raise InvalidHandle(
                "A Signal username link is encrypted and does not show the username: type the "
                "username itself, like ada.42."
            )
        digits_only = not re.search("[a-z]", text.lower().removeprefix("tel:"))
        if cls._PHONE_START.match(text) and digits_only:
            return normalize_phone(text)
        return cls.check_handle(cls.strip_prefix(text))

    @classmethod
    def display_handle(cls, handle: str) -> str:
        return display_phone(handle) if handle.startswith("+") else handle

    @classmethod
    def profile_url(cls, handle: str) -> str | None:
        if handle.startswith("+"):
            return "https://signal.me/#p/" + url_quote(handle)
        return None


class Viber(PhoneLink):
    NAME: ClassVar[str] = "viber"
    LABEL: ClassVar[str] = "Viber"

    @classmethod
    def handle_from_address(cls, text: str) -> str | None:
        if text.lower().startswith("viber://"):
            numbers = parse_qs(urlsplit(text).query).get("number")
            if not numbers:
                raise InvalidHandle("This Viber link has no phone number in it.")
            return numbers[0].strip()
        return super().handle_from_address(text)

    @classmethod
    def deep_link(cls, handle: str) -> str | None:
        return "viber://chat?number=%2B" + url_quote(handle.removeprefix("+"))


class Messenger(ProfileLink):
    NAME: ClassVar[str] = "messenger"
    LABEL: ClassVar[str] = "Messenger"
    HANDLE_LABEL: ClassVar[str] = "Facebook username"
    HANDLE_EXAMPLE: ClassVar[str] = "ada.lovelace"
    HANDLE_PATTERN: ClassVar[str] = r"[1-9][0-9]{0,19}|(?=.*[a-z])(?!.*\.php$)[a-z0-9.]{5,50}"
    RULES: ClassVar[str] = (
        "A Facebook username has at least 5 letters, digits and periods (or it is the "
        "number of the profile)."
    )
    HOSTS: ClassVar[tuple[str, ...]] = ("m.me", "messenger.com")
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (r"(?P<handle>[^/]+)", r"t/(?P<handle>[^/]+)")
    RESERVED: ClassVar[frozenset[str]] = frozenset({"login", "messages", "groups"})
    PROFILE_URL: ClassVar[str | None] = "https://m.me/{handle}"


class Line(ProfileLink):
    NAME: ClassVar[str] = "line"
    LABEL: ClassVar[str] = "LINE"
    HANDLE_LABEL: ClassVar[str] = "LINE ID"
    HANDLE_EXAMPLE: ClassVar[str] = "ada.lovelace"
    HANDLE_PATTERN: ClassVar[str] = r"[a-z0-9._-]{4,20}"
    RULES: ClassVar[str] = (
        "A LINE ID has 4 to 20 letters, digits, periods, hyphens and underscores."
    )
    HOSTS: ClassVar[tuple[str, ...]] = ("line.me",)
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (r"(?:R/)?ti/p/~(?P<handle>[^/]+)",)
    PROFILE_URL: ClassVar[str | None] = "https://line.me/ti/p/~{handle}"


class WeChat(ProfileLink):
    NAME: ClassVar[str] = "wechat"
    LABEL: ClassVar[str] = "WeChat"
    HANDLE_LABEL: ClassVar[str] = "WeChat ID"
    HANDLE_EXAMPLE: ClassVar[str] = "ada_lovelace"
    CASE_INSENSITIVE: ClassVar[bool] = False
    HANDLE_PATTERN: ClassVar[str] = r"[a-zA-Z][a-zA-Z0-9_-]{5,19}"
    RULES: ClassVar[str] = (
        "A WeChat ID has 6 to 20 letters, digits, underscores and hyphens, and starts with "
        "a letter."
    )


class Discord(ProfileLink):
    NAME: ClassVar[str] = "discord"
    LABEL: ClassVar[str] = "Discord"
    HANDLE_EXAMPLE: ClassVar[str] = "ada.lovelace"
    PREFIXES: ClassVar[tuple[str, ...]] = ("@",)
    HANDLE_PATTERN: ClassVar[str] = r"(?!.*\.\.)[a-z0-9_.]{2,32}"
    RULES: ClassVar[str] = (
        "A Discord username has 2 to 32 letters, digits, underscores and periods, never two "
        "periods in a row."
    )

    @classmethod
    def check_handle(cls, candidate: str) -> str:
        if re.fullmatch(r".+#[0-9]{4}", candidate):
            raise InvalidHandle(
                "Discord usernames no longer end in #and four digits: give your new username."
            )
        return super().check_handle(candidate)


# -- social networks -------------------------------------------------------------------------

_INSTAGRAM_PATTERN = r"(?!\.)(?!.*\.\.)(?!.*\.$)[a-z0-9._]{1,30}"
_INSTAGRAM_RULES = (
    "An Instagram username has at most 30 characters: letters, digits, periods and "
    "underscores, not starting or ending with a period."
)


class Instagram(ProfileLink):
    NAME: ClassVar[str] = "instagram"
    LABEL: ClassVar[str] = "Instagram"
    HANDLE_EXAMPLE: ClassVar[str] = "ada.lovelace"
    AT_SIGN: ClassVar[bool] = True
    HANDLE_PATTERN: ClassVar[str] = _INSTAGRAM_PATTERN
    RULES: ClassVar[str] = _INSTAGRAM_RULES
    HOSTS: ClassVar[tuple[str, ...]] = ("instagram.com", "instagr.am")
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (
        r"(?:_u/)?(?P<handle>[^/]+)",
        r"(?P<handle>[^/]+)/(?:reels|tagged|saved|guides|followers|following)",
    )
    RESERVED: ClassVar[frozenset[str]] = _words(
        "p reel reels tv explore stories accounts direct about legal"
    )
    PROFILE_URL: ClassVar[str | None] = "https://www.instagram.com/{handle}/"


class Threads(ProfileLink):
    NAME: ClassVar[str] = "threads"
    LABEL: ClassVar[str] = "Threads"
    HANDLE_EXAMPLE: ClassVar[str] = "ada.lovelace"
    AT_SIGN: ClassVar[bool] = True
    HANDLE_PATTERN: ClassVar[str] = _INSTAGRAM_PATTERN
    RULES: ClassVar[str] = "A Threads username is an Instagram username. " + _INSTAGRAM_RULES
    HOSTS: ClassVar[tuple[str, ...]] = ("threads.com", "threads.net")
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (
        r"@(?P<handle>[^/]+)",
        r"@(?P<handle>[^/]+)/(?:replies|media|reposts|post/[A-Za-z0-9_-]+)",
    )
    PROFILE_URL: ClassVar[str | None] = "https://www.threads.com/@{handle}"


class Facebook(ProfileLink):
    NAME: ClassVar[str] = "facebook"
    LABEL: ClassVar[str] = "Facebook"
    HANDLE_EXAMPLE: ClassVar[str] = "ada.lovelace"
    HANDLE_PATTERN: ClassVar[str] = Messenger.HANDLE_PATTERN
    RULES: ClassVar[str] = Messenger.RULES
    HOSTS: ClassVar[tuple[str, ...]] = ("facebook.com", "fb.com", "web.facebook.com")
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (
        r"(?P<handle>[^/]+)",
        r"people/[^/]+/(?P<handle>[0-9]+)",
        r"p/[^/]*-(?P<handle>[0-9]+)",
    )
    RESERVED: ClassVar[frozenset[str]] = _words(
        "people pages groups events watch marketplace gaming login friends messages "
        "settings photos videos reels stories sharer share search hashtag business "
        "policies privacy help notifications bookmarks profile recover"
    )

    @classmethod
    def handle_from_path(cls, path: str, query: dict[str, list[str]]) -> str | None:
        if path == "profile.php":
            ids = query.get("id")
            return ids[0] if ids else None
        return super().handle_from_path(path, query)

    @classmethod
    def profile_url(cls, handle: str) -> str | None:
        if handle.isdigit():
            return "https://www.facebook.com/profile.php?id=" + handle
        return "https://www.facebook.com/" + url_quote(handle)


class X(ProfileLink):
    NAME: ClassVar[str] = "x"
    LABEL: ClassVar[str] = "X"
    HANDLE_EXAMPLE: ClassVar[str] = "ada_lovelace"
    AT_SIGN: ClassVar[bool] = True
    HANDLE_PATTERN: ClassVar[str] = r"[a-z0-9_]{1,15}"
    RULES: ClassVar[str] = (
        "An X username has at most 15 characters: letters, digits and underscores."
    )
    HOSTS: ClassVar[tuple[str, ...]] = ("x.com", "twitter.com")
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (
        r"(?P<handle>[^/]+)",
        r"(?P<handle>[^/]+)/(?:with_replies|media|likes|highlights|articles|followers|"
        r"following|verified_followers|photo|header_photo)",
    )
    RESERVED: ClassVar[frozenset[str]] = _words(
        "home i search explore settings notifications messages compose intent share "
        "hashtag login logout signup tos privacy jobs"
    )
    PROFILE_URL: ClassVar[str | None] = "https://x.com/{handle}"

    @classmethod
    def handle_from_path(cls, path: str, query: dict[str, list[str]]) -> str | None:
        if path in ("intent/user", "intent/follow") and query.get("screen_name"):
            return query["screen_name"][0]
        return super().handle_from_path(path, query)


class VK(ProfileLink):
    NAME: ClassVar[str] = "vk"
    LABEL: ClassVar[str] = "VK"
    HANDLE_LABEL: ClassVar[str] = "Short address or id"
    HANDLE_EXAMPLE: ClassVar[str] = "ada_lovelace"
    HANDLE_PATTERN: ClassVar[str] = (
        r"id[1-9][0-9]{0,11}|(?!.*\.\.)(?=.*[a-z])[a-z0-9_](?:[a-z0-9_.]{0,30}[a-z0-9_])?"
    )
    RULES: ClassVar[str] = (
        "A VK address is id and the page's number, or a short address of at most 32 Latin "
        "letters, digits, underscores and periods."
    )
    HOSTS: ClassVar[tuple[str, ...]] = ("vk.com", "vk.ru", "vkontakte.ru")
    RESERVED: ClassVar[frozenset[str]] = _words(
        "feed im friends groups audio audios video videos clips settings search apps "
        "market music services docs login join support about blog dev ads edit photos "
        "albums fave bugs"
    )
    PROFILE_URL: ClassVar[str | None] = "https://vk.com/{handle}"


class Odnoklassniki(ProfileLink):
    NAME: ClassVar[str] = "odnoklassniki"
    LABEL: ClassVar[str] = "Odnoklassniki"
    HANDLE_LABEL: ClassVar[str] = "Profile number or short address"
    HANDLE_EXAMPLE: ClassVar[str] = "574281163542"
    HANDLE_PATTERN: ClassVar[str] = (
        r"[1-9][0-9]{0,19}|(?!.*\.\.)(?=.*[a-z])[a-z0-9](?:[a-z0-9_.]{0,48}[a-z0-9_])?"
    )
    RULES: ClassVar[str] = (
        "An Odnoklassniki profile is its number (ok.ru/profile/…) or a short address of "
        "Latin letters, digits, underscores and periods."
    )
    HOSTS: ClassVar[tuple[str, ...]] = ("ok.ru", "odnoklassniki.ru")
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (
        r"profile/(?P<handle>[0-9]+)",
        r"(?P<handle>[^/]+)",
    )
    RESERVED: ClassVar[frozenset[str]] = _words(
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
    NAME: ClassVar[str] = "linkedin"
    LABEL: ClassVar[str] = "LinkedIn"
    HANDLE_LABEL: ClassVar[str] = "Public profile address"
    HANDLE_EXAMPLE: ClassVar[str] = "ada-lovelace"
    RULES: ClassVar[str] = (
        "A LinkedIn public profile address (what follows linkedin.com/in/) has 3 to 100 "
        "letters, digits and hyphens."
    )
    HOSTS: ClassVar[tuple[str, ...]] = ("linkedin.com",)
    HOST_PATTERN: ClassVar[str] = r"[a-z]{2}\.linkedin\.com"
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (r"in/(?P<handle>[^/]+)(?:/.*)?",)
    PREFIXES: ClassVar[tuple[str, ...]] = ("in/", "/in/")
    PROFILE_URL: ClassVar[str | None] = "https://www.linkedin.com/in/{handle}/"

    @classmethod
    def check_handle(cls, candidate: str) -> str:
        handle = candidate.lower()
        if not 3 <= len(handle) <= 100 or not _letters_digits(handle, "-"):
            raise InvalidHandle(cls.RULES)
        return handle


class YouTube(ProfileLink):
    NAME: ClassVar[str] = "youtube"
    LABEL: ClassVar[str] = "YouTube"
    HANDLE_LABEL: ClassVar[str] = "Handle"
    HANDLE_EXAMPLE: ClassVar[str] = "@adalovelace"
    RULES: ClassVar[str] = (
        "A YouTube handle has 3 to 30 letters, digits, underscores, hyphens and periods "
        "(a channel without one is its id, UC and 22 more characters)."
    )
    HOSTS: ClassVar[tuple[str, ...]] = ("youtube.com", "music.youtube.com")
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (
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


class TikTok(ProfileLink):
    NAME: ClassVar[str] = "tiktok"
    LABEL: ClassVar[str] = "TikTok"
    HANDLE_EXAMPLE: ClassVar[str] = "ada.lovelace"
    AT_SIGN: ClassVar[bool] = True
    HANDLE_PATTERN: ClassVar[str] = r"(?!.*\.$)[a-z0-9_.]{2,24}"
    RULES: ClassVar[str] = (
        "A TikTok username has 2 to 24 letters, digits, underscores and periods, and does not "
        "end with a period."
    )
    HOSTS: ClassVar[tuple[str, ...]] = ("tiktok.com",)
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (
        r"@(?P<handle>[^/]+)",
        r"@(?P<handle>[^/]+)/(?:video|photo)/[0-9]+",
    )
    PROFILE_URL: ClassVar[str | None] = "https://www.tiktok.com/@{handle}"


class Snapchat(ProfileLink):
    NAME: ClassVar[str] = "snapchat"
    LABEL: ClassVar[str] = "Snapchat"
    HANDLE_EXAMPLE: ClassVar[str] = "ada.lovelace"
    PREFIXES: ClassVar[tuple[str, ...]] = ("@",)
    HANDLE_PATTERN: ClassVar[str] = r"[a-z][a-z0-9._-]{1,13}[a-z0-9]"
    RULES: ClassVar[str] = (
        "A Snapchat username has 3 to 15 letters, digits, periods, hyphens and underscores, "
        "starts with a letter and ends with a letter or digit."
    )
    HOSTS: ClassVar[tuple[str, ...]] = ("snapchat.com",)
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (r"add/(?P<handle>[^/]+)", r"@(?P<handle>[^/]+)")
    PROFILE_URL: ClassVar[str | None] = "https://www.snapchat.com/add/{handle}"


class Reddit(ProfileLink):
    NAME: ClassVar[str] = "reddit"
    LABEL: ClassVar[str] = "Reddit"
    HANDLE_EXAMPLE: ClassVar[str] = "u/ada_lovelace"
    PREFIXES: ClassVar[tuple[str, ...]] = ("/u/", "u/", "/user/", "user/", "@")
    DISPLAY_PREFIX: ClassVar[str | None] = "u/"
    HANDLE_PATTERN: ClassVar[str] = r"[a-z0-9_-]{3,20}"
    RULES: ClassVar[str] = "A Reddit username has 3 to 20 letters, digits, underscores and hyphens."
    HOSTS: ClassVar[tuple[str, ...]] = ("reddit.com", "old.reddit.com", "new.reddit.com")
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (
        r"(?:u|user)/(?P<handle>[^/]+)(?:/(?:overview|submitted|comments|posts|about))?",
    )
    PROFILE_URL: ClassVar[str | None] = "https://www.reddit.com/user/{handle}/"


class Pinterest(ProfileLink):
    NAME: ClassVar[str] = "pinterest"
    LABEL: ClassVar[str] = "Pinterest"
    HANDLE_EXAMPLE: ClassVar[str] = "ada_lovelace"
    AT_SIGN: ClassVar[bool] = True
    HANDLE_PATTERN: ClassVar[str] = r"[a-z0-9_]{3,30}"
    RULES: ClassVar[str] = "A Pinterest username has 3 to 30 letters, digits and underscores."
    HOSTS: ClassVar[tuple[str, ...]] = (
        "pinterest.com",
        *sorted(
            "pinterest." + suffix
            for suffix in _words("co.uk ca com.au com.mx de fr es it pt at ch ie nz se dk jp cl ph")
        ),
    )
    HOST_PATTERN: ClassVar[str] = r"[a-z]{2}\.pinterest\.com"
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (
        r"(?P<handle>[^/]+)",
        r"(?P<handle>[^/]+)/_(?:created|saved|profile|boards|pins)",
    )
    RESERVED: ClassVar[frozenset[str]] = _words(
        "pin search ideas today business settings login explore"
    )
    PROFILE_URL: ClassVar[str | None] = "https://www.pinterest.com/{handle}/"


class Tumblr(ProfileLink):
    NAME: ClassVar[str] = "tumblr"
    LABEL: ClassVar[str] = "Tumblr"
    HANDLE_LABEL: ClassVar[str] = "Blog name"
    HANDLE_EXAMPLE: ClassVar[str] = "ada-lovelace"
    PREFIXES: ClassVar[tuple[str, ...]] = ("@",)
    HANDLE_PATTERN: ClassVar[str] = r"(?=.*[a-z0-9])[a-z0-9-]{1,32}"
    RULES: ClassVar[str] = "A Tumblr blog name has at most 32 letters, digits and hyphens."
    HOSTS: ClassVar[tuple[str, ...]] = ("tumblr.com",)
    SUBDOMAIN_OF: ClassVar[str] = "tumblr.com"
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (r"(?:blog/(?:view/)?)?(?P<handle>[^/]+)(?:/.*)?",)
    RESERVED: ClassVar[frozenset[str]] = _words(
        "dashboard explore settings search tagged likes following inbox login register "
        "new blog help about policy docs privacy apps jobs api assets media static embed "
        "communities"
    )
    PROFILE_URL: ClassVar[str | None] = "https://www.tumblr.com/{handle}"


class Medium(ProfileLink):
    NAME: ClassVar[str] = "medium"
    LABEL: ClassVar[str] = "Medium"
    HANDLE_EXAMPLE: ClassVar[str] = "ada.lovelace"
    AT_SIGN: ClassVar[bool] = True
    HANDLE_PATTERN: ClassVar[str] = r"[a-z0-9_](?:[a-z0-9_.-]{0,28}[a-z0-9_])?"
    RULES: ClassVar[str] = (
        "A Medium username has at most 30 letters, digits, underscores, hyphens and periods, "
        "not starting or ending with a period or hyphen."
    )
    HOSTS: ClassVar[tuple[str, ...]] = ("medium.com",)
    SUBDOMAIN_OF: ClassVar[str] = "medium.com"
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (r"@(?P<handle>[^/]+)(?:/.*)?",)
    RESERVED: ClassVar[frozenset[str]] = _words("help policy api about cdn miro status link")
    PROFILE_URL: ClassVar[str | None] = "https://medium.com/@{handle}"


class Pixelfed(ProfileLink):
    NAME: ClassVar[str] = "pixelfed"
    LABEL: ClassVar[str] = "Pixelfed"
    HANDLE_LABEL: ClassVar[str] = "Address"
    HANDLE_EXAMPLE: ClassVar[str] = "ada@pixelfed.social"
    RULES: ClassVar[str] = (
        "A Pixelfed address is the username and the server, like ada@pixelfed.social; the "
        "username has 2 to 30 letters and digits, with at most one hyphen, underscore or "
        "period inside."
    )
    _USER: ClassVar[re.Pattern[str]] = re.compile(r"(?=.{2,30}$)[a-z0-9]+(?:[-_.][a-z0-9]+)?")
    _PATH: ClassVar[re.Pattern[str]] = re.compile(r"(?:users/|@)?(?P<user>[^/]+)")

    @classmethod
    def normalize_handle(cls, raw: str) -> str:
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
    def display_handle(cls, handle: str) -> str:
        return "@" + handle


# -- code, music, pictures -------------------------------------------------------------------


class GitHub(ProfileLink):
    NAME: ClassVar[str] = "github"
    LABEL: ClassVar[str] = "GitHub"
    AUTH: ClassVar[AuthKind] = "link"
    HANDLE_EXAMPLE: ClassVar[str] = "ada-lovelace"
    AT_SIGN: ClassVar[bool] = True
    HANDLE_PATTERN: ClassVar[str] = r"[a-z0-9](?:-?[a-z0-9]){0,38}"
    RULES: ClassVar[str] = (
        "A GitHub username has at most 39 letters, digits and single hyphens, and does not "
        "start or end with a hyphen."
    )
    HOSTS: ClassVar[tuple[str, ...]] = ("github.com",)
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (
        r"(?P<handle>[^/]+)",
        r"orgs/(?P<handle>[^/]+)(?:/.*)?",
    )
    RESERVED: ClassVar[frozenset[str]] = _words(
        "about features pricing settings login join explore topics trending collections "
        "events marketplace sponsors orgs organizations notifications issues pulls search "
        "new apps enterprise security site contact codespaces team discussions"
    )
    PROFILE_URL: ClassVar[str | None] = "https://github.com/{handle}"


class GitLab(ProfileLink):
    NAME: ClassVar[str] = "gitlab"
    LABEL: ClassVar[str] = "GitLab"
    HANDLE_EXAMPLE: ClassVar[str] = "ada.lovelace"
    AT_SIGN: ClassVar[bool] = True
    HANDLE_PATTERN: ClassVar[str] = (
        r"(?!.*\.(?:git|atom)$)(?:[a-z0-9_.][a-z0-9_.-]{0,253}[a-z0-9_-]|[a-z0-9_])"
    )
    RULES: ClassVar[str] = (
        "A GitLab username has letters, digits, underscores, hyphens and periods; it does not "
        "start with a hyphen, nor end with a period, .git or .atom."
    )
    HOSTS: ClassVar[tuple[str, ...]] = ("gitlab.com",)
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (
        r"(?P<handle>[^/]+)",
        r"users/(?P<handle>[^/]+)(?:/.*)?",
    )
    RESERVED: ClassVar[frozenset[str]] = _words(
        "explore users groups projects dashboard help admin search api public snippets"
    )
    PROFILE_URL: ClassVar[str | None] = "https://gitlab.com/{handle}"


class Keybase(ProfileLink):
    NAME: ClassVar[str] = "keybase"
    LABEL: ClassVar[str] = "Keybase"
    HANDLE_EXAMPLE: ClassVar[str] = "ada_lovelace"
    HANDLE_PATTERN: ClassVar[str] = r"(?=.{2,16}$)(?:[a-z0-9]_?)+"
    RULES: ClassVar[str] = (
        "A Keybase username has 2 to 16 letters, digits and single underscores, and does not "
        "start with an underscore."
    )
    HOSTS: ClassVar[tuple[str, ...]] = ("keybase.io",)
    RESERVED: ClassVar[frozenset[str]] = _words(
        "docs download blog team login signup account inv jobs"
    )
    PROFILE_URL: ClassVar[str | None] = "https://keybase.io/{handle}"


class Twitch(ProfileLink):
    NAME: ClassVar[str] = "twitch"
    LABEL: ClassVar[str] = "Twitch"
    HANDLE_EXAMPLE: ClassVar[str] = "ada_lovelace"
    AT_SIGN: ClassVar[bool] = True
    HANDLE_PATTERN: ClassVar[str] = r"[a-z0-9_]{4,25}"
    RULES: ClassVar[str] = "A Twitch username has 4 to 25 letters, digits and underscores."
    HOSTS: ClassVar[tuple[str, ...]] = ("twitch.tv",)
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (
        r"(?P<handle>[^/]+)",
        r"(?P<handle>[^/]+)/(?:about|videos|schedule|clips|collections)",
    )
    RESERVED: ClassVar[frozenset[str]] = _words(
        "directory videos settings search subscriptions inventory wallet drops downloads "
        "jobs login signup turbo"
    )
    PROFILE_URL: ClassVar[str | None] = "https://www.twitch.tv/{handle}"


class SoundCloud(ProfileLink):
    NAME: ClassVar[str] = "soundcloud"
    LABEL: ClassVar[str] = "SoundCloud"
    HANDLE_LABEL: ClassVar[str] = "Profile address"
    HANDLE_EXAMPLE: ClassVar[str] = "ada-lovelace"
    HANDLE_PATTERN: ClassVar[str] = r"(?!.*[-_]{2})[a-z0-9][a-z0-9_-]{1,23}[a-z0-9]"
    RULES: ClassVar[str] = (
        "A SoundCloud profile address has 3 to 25 lowercase letters, digits, underscores and "
        "hyphens, neither at the ends nor two in a row."
    )
    HOSTS: ClassVar[tuple[str, ...]] = ("soundcloud.com",)
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (
        r"(?P<handle>[^/]+)",
        r"(?P<handle>[^/]+)/(?:tracks|albums|sets|reposts|popular-tracks|likes|following|"
        r"followers)",
    )
    RESERVED: ClassVar[frozenset[str]] = _words(
        "discover stream upload you search charts pages settings messages notifications "
        "stations mobile jobs imprint people pro artists feed"
    )
    PROFILE_URL: ClassVar[str | None] = "https://soundcloud.com/{handle}"


class Flickr(ProfileLink):
    NAME: ClassVar[str] = "flickr"
    LABEL: ClassVar[str] = "Flickr"
    HANDLE_LABEL: ClassVar[str] = "Profile address or NSID"
    HANDLE_EXAMPLE: ClassVar[str] = "ada-lovelace"
    HANDLE_PATTERN: ClassVar[str] = r"[0-9]{1,20}@n[0-9]{2}|[a-z0-9_-]{1,50}"
    RULES: ClassVar[str] = (
        "A Flickr profile is its NSID, like 12345678@N01, or its custom address of letters, "
        "digits, hyphens and underscores."
    )
    HOSTS: ClassVar[tuple[str, ...]] = ("flickr.com",)
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (r"(?:photos|people)/(?P<handle>[^/]+)(?:/.*)?",)
    RESERVED: ClassVar[frozenset[str]] = frozenset({"me", "tags", "groups", "explore"})

    @classmethod
    def check_handle(cls, candidate: str) -> str:
        handle = super().check_handle(candidate)
        return handle.replace("@n", "@N")  # an NSID is written with a capital N

    @classmethod
    def profile_url(cls, handle: str) -> str | None:
        return f"https://www.flickr.com/people/{url_quote(handle)}/"


# -- the web ---------------------------------------------------------------------------------


class Website(ProfileLink):
    NAME: ClassVar[str] = "website"
    LABEL: ClassVar[str] = "Website"
    AUTH: ClassVar[AuthKind] = "link"
    HANDLE_LABEL: ClassVar[str] = "Address"
    HANDLE_EXAMPLE: ClassVar[str] = "https://example.org/"

    @classmethod
    def normalize_handle(cls, raw: str) -> str:
        return normalize_web_url(raw)

    @classmethod
    def profile_url(cls, handle: str) -> str | None:
        return handle

    @classmethod
    def display_handle(cls, handle: str) -> str:
        """The address without ``https://`` and without a lone trailing slash."""
        shown = handle.split("://", 1)[-1]
        return shown[:-1] if shown.endswith("/") and shown.count("/") == 1 else shown
