"""Link-only networks: what a person types or pastes becomes one handle, with working links."""

from __future__ import annotations

import unicodedata

import pytest

import connectors
from connectors.base import Connector, InvalidHandle

# network, what a person enters, the handle kept, its profile page (also its app link, unless
# APP_LINKS says otherwise)
VALID: list[tuple[str, str, str, str | None]] = [
    # Instagram
    ("instagram", "ada.lovelace", "ada.lovelace", "https://www.instagram.com/ada.lovelace/"),
    ("instagram", "@Ada.Lovelace", "ada.lovelace", "https://www.instagram.com/ada.lovelace/"),
    (
        "instagram",
        "https://www.instagram.com/ada.lovelace/?hl=en",
        "ada.lovelace",
        "https://www.instagram.com/ada.lovelace/",
    ),
    (
        "instagram",
        "instagram.com/ada_1815?igsh=MWQ1ZGUxMzBkMA==",
        "ada_1815",
        "https://www.instagram.com/ada_1815/",
    ),
    (
        "instagram",
        "  http://m.instagram.com/Ada_1815/reels/  ",
        "ada_1815",
        "https://www.instagram.com/ada_1815/",
    ),
    ("instagram", "https://instagr.am/a", "a", "https://www.instagram.com/a/"),
    ("instagram", "a" * 30, "a" * 30, f"https://www.instagram.com/{'a' * 30}/"),
    # Threads
    ("threads", "@ada.lovelace", "ada.lovelace", "https://www.threads.com/@ada.lovelace"),
    (
        "threads",
        "https://www.threads.net/@Ada.Lovelace",
        "ada.lovelace",
        "https://www.threads.com/@ada.lovelace",
    ),
    (
        "threads",
        "threads.com/@ada_1815/post/C8abc_-1",
        "ada_1815",
        "https://www.threads.com/@ada_1815",
    ),
    # Facebook
    ("facebook", "Ada.Lovelace", "ada.lovelace", "https://www.facebook.com/ada.lovelace"),
    (
        "facebook",
        "https://m.facebook.com/ada.lovelace/?ref=bookmarks",
        "ada.lovelace",
        "https://www.facebook.com/ada.lovelace",
    ),
    (
        "facebook",
        "https://www.facebook.com/profile.php?id=100012345678",
        "100012345678",
        "https://www.facebook.com/profile.php?id=100012345678",
    ),
    (
        "facebook",
        "facebook.com/people/Ada-Lovelace/100012345678/",
        "100012345678",
        "https://www.facebook.com/profile.php?id=100012345678",
    ),
    (
        "facebook",
        "fb.com/adalovelace1815",
        "adalovelace1815",
        "https://www.facebook.com/adalovelace1815",
    ),
    # Messenger
    ("messenger", "ada.lovelace", "ada.lovelace", "https://m.me/ada.lovelace"),
    ("messenger", "https://m.me/Ada.Lovelace", "ada.lovelace", "https://m.me/ada.lovelace"),
    (
        "messenger",
        "https://www.messenger.com/t/adalovelace1815/",
        "adalovelace1815",
        "https://m.me/adalovelace1815",
    ),
    # X
    ("x", "@Ada_Lovelace", "ada_lovelace", "https://x.com/ada_lovelace"),
    ("x", "https://twitter.com/ada_lovelace", "ada_lovelace", "https://x.com/ada_lovelace"),
    (
        "x",
        "https://mobile.twitter.com/ada_lovelace/with_replies?s=20",
        "ada_lovelace",
        "https://x.com/ada_lovelace",
    ),
    ("x", "x.com/intent/user?screen_name=ada", "ada", "https://x.com/ada"),
    ("x", "j", "j", "https://x.com/j"),
    ("x", "a23456789012345", "a23456789012345", "https://x.com/a23456789012345"),
    # VK
    ("vk", "https://vk.com/id1", "id1", "https://vk.com/id1"),
    ("vk", "Ada_Lovelace", "ada_lovelace", "https://vk.com/ada_lovelace"),
    (
        "vk",
        "https://m.vk.com/ada.lovelace?from=profile",
        "ada.lovelace",
        "https://vk.com/ada.lovelace",
    ),
    # Odnoklassniki
    (
        "odnoklassniki",
        "https://ok.ru/profile/574281163542",
        "574281163542",
        "https://ok.ru/profile/574281163542",
    ),
    ("odnoklassniki", "574281163542", "574281163542", "https://ok.ru/profile/574281163542"),
    ("odnoklassniki", "https://m.ok.ru/Ada.Lovelace", "ada.lovelace", "https://ok.ru/ada.lovelace"),
    # LinkedIn
    ("linkedin", "ada-lovelace", "ada-lovelace", "https://www.linkedin.com/in/ada-lovelace/"),
    (
        "linkedin",
        "https://www.linkedin.com/in/Ada-Lovelace-1815ab/?originalSubdomain=uk",
        "ada-lovelace-1815ab",
        "https://www.linkedin.com/in/ada-lovelace-1815ab/",
    ),
    (
        "linkedin",
        "uk.linkedin.com/in/adalovelace/details/experience/",
        "adalovelace",
        "https://www.linkedin.com/in/adalovelace/",
    ),
    (
        "linkedin",
        "https://www.linkedin.com/in/%E7%8E%8B%E5%B0%8F%E6%98%8E",
        "王小明",
        "https://www.linkedin.com/in/%E7%8E%8B%E5%B0%8F%E6%98%8E/",
    ),
    # YouTube
    ("youtube", "@AdaLovelace", "adalovelace", "https://www.youtube.com/@adalovelace"),
    (
        "youtube",
        "https://www.youtube.com/@Ada.Lovelace-1815/videos",
        "ada.lovelace-1815",
        "https://www.youtube.com/@ada.lovelace-1815",
    ),
    (
        "youtube",
        "m.youtube.com/@ada_lovelace?si=xyz",
        "ada_lovelace",
        "https://www.youtube.com/@ada_lovelace",
    ),
    (
        "youtube",
        "https://www.youtube.com/channel/UC_x5XG1OV2P6uZZ5FSM9Ttw",
        "UC_x5XG1OV2P6uZZ5FSM9Ttw",
        "https://www.youtube.com/channel/UC_x5XG1OV2P6uZZ5FSM9Ttw",
    ),
    (
        "youtube",
        "UC_x5XG1OV2P6uZZ5FSM9Ttw",
        "UC_x5XG1OV2P6uZZ5FSM9Ttw",
        "https://www.youtube.com/channel/UC_x5XG1OV2P6uZZ5FSM9Ttw",
    ),
    ("youtube", "@Ελένη", "ελένη", "https://www.youtube.com/@%CE%B5%CE%BB%CE%AD%CE%BD%CE%B7"),
    # TikTok
    ("tiktok", "@Ada.Lovelace", "ada.lovelace", "https://www.tiktok.com/@ada.lovelace"),
    (
        "tiktok",
        "https://www.tiktok.com/@ada_1815?lang=en",
        "ada_1815",
        "https://www.tiktok.com/@ada_1815",
    ),
    (
        "tiktok",
        "tiktok.com/@ada_1815/video/7234567890123456789",
        "ada_1815",
        "https://www.tiktok.com/@ada_1815",
    ),
    # Snapchat
    ("snapchat", "Ada.Lovelace", "ada.lovelace", "https://www.snapchat.com/add/ada.lovelace"),
    (
        "snapchat",
        "https://www.snapchat.com/add/ada-1815?share_id=abc",
        "ada-1815",
        "https://www.snapchat.com/add/ada-1815",
    ),
    ("snapchat", "snapchat.com/@ada_l", "ada_l", "https://www.snapchat.com/add/ada_l"),
    # Discord: no public page
    ("discord", "Ada.Lovelace", "ada.lovelace", None),
    ("discord", "@ada_1815", "ada_1815", None),
    # Reddit
    ("reddit", "u/Ada_Lovelace", "ada_lovelace", "https://www.reddit.com/user/ada_lovelace/"),
    ("reddit", "/u/ada-1815", "ada-1815", "https://www.reddit.com/user/ada-1815/"),
    (
        "reddit",
        "https://old.reddit.com/user/ada_lovelace/submitted/",
        "ada_lovelace",
        "https://www.reddit.com/user/ada_lovelace/",
    ),
    (
        "reddit",
        "reddit.com/u/ada_lovelace",
        "ada_lovelace",
        "https://www.reddit.com/user/ada_lovelace/",
    ),
    # GitHub
    ("github", "Ada-Lovelace", "ada-lovelace", "https://github.com/ada-lovelace"),
    ("github", "@octocat", "octocat", "https://github.com/octocat"),
    (
        "github",
        "https://github.com/octocat?tab=repositories",
        "octocat",
        "https://github.com/octocat",
    ),
    ("github", "github.com/orgs/python/people", "python", "https://github.com/python"),
    ("github", "a" * 39, "a" * 39, f"https://github.com/{'a' * 39}"),
    # GitLab
    ("gitlab", "@Ada.Lovelace", "ada.lovelace", "https://gitlab.com/ada.lovelace"),
    (
        "gitlab",
        "https://gitlab.com/users/ada_1815/activity",
        "ada_1815",
        "https://gitlab.com/ada_1815",
    ),
    ("gitlab", "_ada-", "_ada-", "https://gitlab.com/_ada-"),
    # Twitch
    ("twitch", "Ada_Lovelace", "ada_lovelace", "https://www.twitch.tv/ada_lovelace"),
    (
        "twitch",
        "https://m.twitch.tv/ada_lovelace/videos?filter=all",
        "ada_lovelace",
        "https://www.twitch.tv/ada_lovelace",
    ),
    # Pinterest
    ("pinterest", "@Ada_Lovelace", "ada_lovelace", "https://www.pinterest.com/ada_lovelace/"),
    (
        "pinterest",
        "https://www.pinterest.co.uk/ada_lovelace/_saved/",
        "ada_lovelace",
        "https://www.pinterest.com/ada_lovelace/",
    ),
    (
        "pinterest",
        "https://fr.pinterest.com/ada_lovelace/",
        "ada_lovelace",
        "https://www.pinterest.com/ada_lovelace/",
    ),
    # LINE
    ("line", "ada.lovelace", "ada.lovelace", "https://line.me/ti/p/~ada.lovelace"),
    ("line", "https://line.me/ti/p/~Ada_1815", "ada_1815", "https://line.me/ti/p/~ada_1815"),
    ("line", "line.me/R/ti/p/~ada-l", "ada-l", "https://line.me/ti/p/~ada-l"),
    # WeChat: no public page, case kept
    ("wechat", "AdaLovelace", "AdaLovelace", None),
    ("wechat", "wxid_abcdefgh12345", "wxid_abcdefgh12345", None),
    # Tumblr
    ("tumblr", "ada-lovelace", "ada-lovelace", "https://www.tumblr.com/ada-lovelace"),
    (
        "tumblr",
        "https://ada-lovelace.tumblr.com/",
        "ada-lovelace",
        "https://www.tumblr.com/ada-lovelace",
    ),
    (
        "tumblr",
        "https://www.tumblr.com/Ada-Lovelace/745412345678/analytical-engine",
        "ada-lovelace",
        "https://www.tumblr.com/ada-lovelace",
    ),
    (
        "tumblr",
        "adalovelace.tumblr.com/post/123",
        "adalovelace",
        "https://www.tumblr.com/adalovelace",
    ),
    # Pixelfed (federated)
    ("pixelfed", "ada@pixelfed.social", "ada@pixelfed.social", "https://pixelfed.social/ada"),
    (
        "pixelfed",
        "@Ada_L@Pixelfed.Social",
        "ada_l@pixelfed.social",
        "https://pixelfed.social/ada_l",
    ),
    (
        "pixelfed",
        "https://pixelfed.de/ada.lovelace",
        "ada.lovelace@pixelfed.de",
        "https://pixelfed.de/ada.lovelace",
    ),
    (
        "pixelfed",
        "https://pixel.example.org/users/ada",
        "ada@pixel.example.org",
        "https://pixel.example.org/ada",
    ),
    ("pixelfed", "ada@bücher.de", "ada@xn--bcher-kva.de", "https://xn--bcher-kva.de/ada"),
    # Medium
    ("medium", "@Ada.Lovelace", "ada.lovelace", "https://medium.com/@ada.lovelace"),
    (
        "medium",
        "https://medium.com/@ada_1815/notes-on-the-engine-1843-abc123",
        "ada_1815",
        "https://medium.com/@ada_1815",
    ),
    ("medium", "https://adalovelace.medium.com/", "adalovelace", "https://medium.com/@adalovelace"),
    # Keybase
    ("keybase", "Ada_Lovelace", "ada_lovelace", "https://keybase.io/ada_lovelace"),
    ("keybase", "https://keybase.io/chris", "chris", "https://keybase.io/chris"),
    ("keybase", "a_", "a_", "https://keybase.io/a_"),
    # SoundCloud
    ("soundcloud", "ada-lovelace", "ada-lovelace", "https://soundcloud.com/ada-lovelace"),
    (
        "soundcloud",
        "https://m.soundcloud.com/user-123456789/tracks",
        "user-123456789",
        "https://soundcloud.com/user-123456789",
    ),
    # Flickr
    (
        "flickr",
        "https://www.flickr.com/photos/12345678@N01/",
        "12345678@N01",
        "https://www.flickr.com/people/12345678@N01/",
    ),
    ("flickr", "12345678@n01", "12345678@N01", "https://www.flickr.com/people/12345678@N01/"),
    (
        "flickr",
        "flickr.com/people/Ada-Lovelace/",
        "ada-lovelace",
        "https://www.flickr.com/people/ada-lovelace/",
    ),
    # Signal: usernames have no link; phone numbers do
    ("signal", "ada.42", "ada.42", None),
    ("signal", "@Ada_Lovelace.1815", "ada_lovelace.1815", None),
    ("signal", "_ada.01", "_ada.01", None),
    ("signal", "+44 7400 123456", "+447400123456", "https://signal.me/#p/+447400123456"),
    (
        "signal",
        "https://signal.me/#p/+12015550123",
        "+12015550123",
        "https://signal.me/#p/+12015550123",
    ),
    # WhatsApp
    ("whatsapp", "+44 7400 123456", "+447400123456", "https://wa.me/447400123456"),
    (
        "whatsapp",
        "https://wa.me/447400123456?text=hello",
        "+447400123456",
        "https://wa.me/447400123456",
    ),
    (
        "whatsapp",
        "https://api.whatsapp.com/send?phone=447400123456&text=hi",
        "+447400123456",
        "https://wa.me/447400123456",
    ),
    ("whatsapp", "wa.me/+33612345678", "+33612345678", "https://wa.me/33612345678"),
    # Viber: no web page, an app link
    ("viber", "+44 7400 123456", "+447400123456", None),
    ("viber", "viber://chat?number=%2B33612345678", "+33612345678", None),
    # Website
    ("website", "Example.ORG", "https://example.org/", "https://example.org/"),
    (
        "website",
        "http://www.Example.org:80/blog/?page=2#top",
        "http://www.example.org/blog/?page=2",
        "http://www.example.org/blog/?page=2",
    ),
    (
        "website",
        "https://bücher.de:443/über",
        "https://xn--bcher-kva.de/%C3%BCber",
        "https://xn--bcher-kva.de/%C3%BCber",
    ),
    (
        "website",
        "https://ada.example.com:8443/",
        "https://ada.example.com:8443/",
        "https://ada.example.com:8443/",
    ),
    ("website", "https://faß.de", "https://xn--fa-hia.de/", "https://xn--fa-hia.de/"),
    ("website", "http://8.8.8.8/", "http://8.8.8.8/", "http://8.8.8.8/"),
    # Feed
    (
        "feed",
        "example.org/feed.xml",
        "https://example.org/feed.xml",
        "https://example.org/feed.xml",
    ),
    ("feed", "feed://Example.org/rss", "https://example.org/rss", "https://example.org/rss"),
    (
        "feed",
        "FEED:http://blog.example.org/atom.xml?tag=a#x",
        "http://blog.example.org/atom.xml?tag=a",
        "http://blog.example.org/atom.xml?tag=a",
    ),
    (
        "feed",
        "https://example.org/feed.json",
        "https://example.org/feed.json",
        "https://example.org/feed.json",
    ),
]

APP_LINKS: dict[tuple[str, str], str | None] = {
    ("viber", "+447400123456"): "viber://chat?number=%2B447400123456",
    ("viber", "+33612345678"): "viber://chat?number=%2B33612345678",
}

INVALID: list[tuple[str, str]] = [
    ("instagram", "a" * 31),
    ("instagram", ".ada"),
    ("instagram", "ada."),
    ("instagram", "ada..lovelace"),
    ("instagram", "ada-lovelace"),
    ("instagram", "ada lovelace"),
    ("instagram", "https://www.instagram.com/p/C8abc123/"),
    ("instagram", "https://www.instagram.com/explore/"),
    ("instagram", "https://evil.example/ada"),
    ("instagram", "https://instagram.com.evil.example/ada"),
    ("instagram", "https://instagram.com@evil.example/x"),
    ("instagram", "https://evil.example\\@instagram.com/x"),
    ("instagram", "instagram.com"),
    ("instagram", "javascript:alert(1)"),
    ("threads", "@ada-lovelace"),
    ("threads", "https://www.threads.net/ada"),
    ("facebook", "ada"),
    ("facebook", "ada_lovelace"),
    ("facebook", "https://www.facebook.com/groups/123456/"),
    ("facebook", "https://www.facebook.com/profile.php"),
    ("facebook", "https://www.facebook.com/sharer.php?u=x"),
    ("messenger", "m.me"),
    ("messenger", "ada"),
    ("x", "a234567890123456"),
    ("x", "ada-lovelace"),
    ("x", "https://x.com/home"),
    ("x", "https://x.com/i/bookmarks"),
    ("x", "https://x.com/ada/status/1234567890"),
    ("x", "https://nitter.net/ada"),
    ("vk", "https://vk.com/feed"),
    ("vk", "ada..lovelace"),
    ("vk", "a" * 33),
    ("vk", "12345"),
    ("odnoklassniki", "https://ok.ru/group/1234"),
    ("odnoklassniki", "ада"),
    ("linkedin", "ad"),
    ("linkedin", "ada_lovelace"),
    ("linkedin", "https://www.linkedin.com/company/example/"),
    ("linkedin", "https://www.linkedin.com/in/"),
    ("youtube", "@ab"),
    ("youtube", "@" + "a" * 31),
    ("youtube", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
    ("youtube", "https://www.youtube.com/c/AdaLovelace"),
    ("youtube", "https://youtu.be/dQw4w9WgXcQ"),
    ("youtube", "@ada lovelace"),
    ("tiktok", "ada."),
    ("tiktok", "a"),
    ("tiktok", "a" * 25),
    ("tiktok", "https://vm.tiktok.com/ZMabc123/"),
    ("snapchat", "1ada"),
    ("snapchat", "ada_"),
    ("snapchat", "ad"),
    ("snapchat", "a" * 16),
    ("discord", "ada#1234"),
    ("discord", "a"),
    ("discord", "ada..lovelace"),
    ("discord", "ada-lovelace"),
    ("discord", "https://discord.com/users/80351110224678912"),
    ("reddit", "ab"),
    ("reddit", "a" * 21),
    ("reddit", "ada.lovelace"),
    ("reddit", "https://www.reddit.com/r/python/"),
    ("github", "-ada"),
    ("github", "ada-"),
    ("github", "ada--lovelace"),
    ("github", "ada_lovelace"),
    ("github", "a" * 40),
    ("github", "https://github.com/settings/profile"),
    ("github", "https://github.com/python/cpython"),
    ("github", "https://gist.github.com/ada"),
    ("gitlab", "-ada"),
    ("gitlab", "ada."),
    ("gitlab", "ada.git"),
    ("gitlab", "ada.atom"),
    ("gitlab", "https://gitlab.com/explore"),
    ("twitch", "ada"),
    ("twitch", "a" * 26),
    ("twitch", "ada-lovelace"),
    ("twitch", "https://www.twitch.tv/directory"),
    ("pinterest", "ab"),
    ("pinterest", "ada.lovelace"),
    ("pinterest", "https://www.pinterest.com/pin/123456789/"),
    ("pinterest", "https://pin.it/abc123"),
    ("line", "abc"),
    ("line", "a" * 21),
    ("line", "@ada"),
    ("line", "https://line.me/ti/g/abc"),
    ("wechat", "ada12"),
    ("wechat", "1adalovelace"),
    ("wechat", "a" * 21),
    ("wechat", "ada.lovelace"),
    ("wechat", "https://weixin.qq.com/ada"),
    ("tumblr", "a" * 33),
    ("tumblr", "ada_lovelace"),
    ("tumblr", "https://www.tumblr.com/dashboard"),
    ("tumblr", "https://ada.lovelace.tumblr.com/"),
    ("pixelfed", "ada"),
    ("pixelfed", "ada@localhost"),
    ("pixelfed", "ada@127.0.0.1"),
    ("pixelfed", "a@pixelfed.social"),
    ("pixelfed", "ada__l@pixelfed.social"),
    ("pixelfed", "ada.l_x@pixelfed.social"),
    ("pixelfed", "-ada@pixelfed.social"),
    ("pixelfed", "ada@pixelfed..social"),
    ("pixelfed", "https://pixelfed.social/p/ada/123"),
    ("pixelfed", "https://pixelfed.social@evil.example/ada"),
    ("pixelfed", "javascript://pixelfed.social/ada"),
    ("medium", ".ada"),
    ("medium", "https://medium.com/some-publication"),
    ("keybase", "a"),
    ("keybase", "_ada"),
    ("keybase", "ada__l"),
    ("keybase", "a" * 17),
    ("soundcloud", "ab"),
    ("soundcloud", "-ada"),
    ("soundcloud", "ada--l"),
    ("soundcloud", "a" * 26),
    ("soundcloud", "https://on.soundcloud.com/abc"),
    ("flickr", "ada lovelace"),
    ("flickr", "https://www.flickr.com/explore"),
    ("signal", "ada"),
    ("signal", "ada.1"),
    ("signal", "ada.00"),
    ("signal", "ada.007"),
    ("signal", "ad.42"),
    ("signal", "1ada.42"),
    ("signal", "ada-l.42"),
    ("signal", "a" * 33 + ".42"),
    ("signal", "https://signal.me/#eu/Sn6Sj0NUWGpHRyt1B7pGNDIN3O6"),
    ("signal", "https://signal.group/#abc"),
    ("signal", "+1 123 456 7890"),
    ("whatsapp", "https://wa.me/message/ABCDEF123"),
    ("whatsapp", "https://evil.example/447400123456"),
    ("whatsapp", "ada"),
    ("viber", "https://viber.com/ada"),
    ("viber", "viber://chat"),
    ("website", "javascript:alert(1)"),
    ("website", "JaVaScRiPt:alert(document.cookie)"),
    ("website", "data:text/html,<script>alert(1)</script>"),
    ("website", "file:///etc/passwd"),
    ("website", "ftp://example.org/"),
    ("website", "mailto:ada@example.org"),
    ("website", "http://localhost/"),
    ("website", "localhost:8000"),
    ("website", "http://ada.localhost/"),
    ("website", "http://router.local/"),
    ("website", "http://intranet"),
    ("website", "http://127.0.0.1"),
    ("website", "http://127.1/"),
    ("website", "http://0x7f.0.0.1/"),
    ("website", "http://2130706433/"),
    ("website", "http://[::1]"),
    ("website", "http://[::ffff:127.0.0.1]/"),
    ("website", "http://[fd00::1]/"),
    ("website", "http://10.0.0.1"),
    ("website", "http://172.16.5.4/"),
    ("website", "http://192.168.1.1/"),
    ("website", "http://100.64.0.1/"),
    ("website", "http://169.254.169.254/latest/meta-data/"),
    ("website", "http://0.0.0.0/"),
    ("website", "http://224.0.0.1/"),
    ("website", "http://999.1.1.1/"),
    ("website", "https://user:secret@example.org/"),
    ("website", "https://instagram.com@evil.example/x"),
    ("website", "https://example.org\\@evil.example/"),
    ("website", "https://exa mple.org/"),
    ("website", "https://example.org:99999/"),
    ("website", "https://-example-.org/"),
    ("website", "https://example.test/"),
    ("website", "http://[::1"),
    ("website", "https://"),
    ("feed", "feed:javascript:alert(1)"),
    ("feed", "feed:file:///etc/passwd"),
    ("feed", "feed://127.0.0.1/rss"),
    ("feed", "feed:"),
    ("feed", "http://192.168.1.1/feed.xml"),
    ("feed", "https://user:pw@example.org/feed"),
    ("feed", "ftp://example.org/feed.xml"),
]

# Numbers from libphonenumber's example metadata (reserved, fictional ranges), as the portal's
# shared test corpus lists them: examples.csv (region, type, e164) and tricky_inputs.csv.
PHONES: list[tuple[str, str]] = [
    ("+1 201-555-0123", "+12015550123"),
    ("+1 (506) 234-5678", "+15062345678"),
    ("+44 121 234 5678", "+441212345678"),
    ("+353 85 012 3456", "+353850123456"),
    ("+49 1512 3456789", "+4915123456789"),
    ("+33 6 12 34 56 78", "+33612345678"),
    ("+39 312 345 6789", "+393123456789"),
    ("+7 912 345-67-89", "+79123456789"),
    ("+380 50 123 4567", "+380501234567"),
    ("+90 501 234 56 78", "+905012345678"),
    ("+972 50-234-5678", "+972502345678"),
    ("+234 802 123 4567", "+2348021234567"),
    ("+91 81234 56789", "+918123456789"),
    ("+86 131 2345 6789", "+8613123456789"),
    ("+81 90-1234-5678", "+819012345678"),
    ("+82 10-2000-0000", "+821020000000"),
    ("+61 412 345 678", "+61412345678"),
    ("+55 11 96123-4567", "+5511961234567"),
    ("+54 9 11 2345-6789", "+5491123456789"),
    ("+52 222 123 4567", "+522221234567"),
    ("0044 121 234 5678", "+441212345678"),
    ("00 33 6 12 34 56 78", "+33612345678"),
    ("++44 121 234 5678", "+441212345678"),
    ("+44 (0)121 234 5678", "+441212345678"),
    ("  +44-7400-123-456  ", "+447400123456"),
    ("+49 (0) 30 123456", "+4930123456"),
    ("tel:+1-201-555-0123", "+12015550123"),
    ("＋１ ２０１ ５５５ ０１２３", "+12015550123"),
    ("+٩٧١ ٥٠ ١٢٣ ٤٥٦٧", "+971501234567"),
    ("447400123456", "+447400123456"),
]

BAD_PHONES = [
    "+52 1 200 123 4567",  # the old Mexican mobile prefix: too long now
    "+44 121 234 56789 0123",  # too long
    "+1 123 456 7890",  # area code 123 does not exist
    "+999 123 456",  # no such country code
    "0121 234 5678",  # national format: which country?
    "07400 123456",
    "011 44 121 234 5678",  # the US international prefix
    "12345",
    "555-0123",
    "1-800-FLOWERS",  # letters
    "+1 800 GOT JUNK",
    "+1 201 555 0123 ext. 45",  # an extension cannot be messaged
    "(201) 555-0123 x45",
    "abc",
    "+",
]

NETWORKS = sorted({row[0] for row in VALID})
PHONE_NETWORKS = ["signal", "viber", "whatsapp"]
PHONE_ONLY = ["viber", "whatsapp"]
"""Of the networks that take phone numbers, those that take nothing else (Signal has usernames)."""


def network(name: str) -> type[Connector]:
    cls = connectors.get(name)
    assert cls is not None, f"{name} is not in the registry"
    return cls


@pytest.mark.parametrize(("name", "raw", "handle", "profile"), VALID)
def test_valid_handles_normalize_and_link(
    name: str, raw: str, handle: str, profile: str | None
) -> None:
    cls = network(name)
    assert cls.normalize_handle(raw) == handle
    assert cls.profile_url(handle) == profile
    assert cls.deep_link(handle) == APP_LINKS.get((name, handle), profile)


@pytest.mark.parametrize(("name", "raw", "handle", "profile"), VALID)
def test_a_kept_handle_and_its_own_profile_page_give_the_same_handle(
    name: str, raw: str, handle: str, profile: str | None
) -> None:
    cls = network(name)
    assert cls.normalize_handle(handle) == handle
    if profile is not None:
        assert cls.normalize_handle(profile) == handle


@pytest.mark.parametrize(("name", "raw"), INVALID)
def test_invalid_handles_are_refused(name: str, raw: str) -> None:
    with pytest.raises(InvalidHandle) as refused:
        network(name).normalize_handle(raw)
    message = refused.value.message
    assert message.endswith((".", ".”")) and len(message) < 300


def test_every_network_has_valid_and_invalid_examples() -> None:
    link_only = {name for name, cls in connectors.registry().items() if cls.LINK_ONLY}
    assert link_only <= set(NETWORKS)
    assert set(NETWORKS) <= {name for name, _ in INVALID}


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("instagram", "a" * 31, "An Instagram username has at most 30 characters"),
        ("x", "ada-lovelace", "An X username has at most 15 characters"),
        ("github", "ada--lovelace", "single hyphens"),
        ("discord", "ada#1234", "no longer end in #"),
        ("discord", "discord.com/users/1", "Discord has no public profile pages"),
        ("instagram", "https://evil.example/ada", "not on Instagram"),
        ("instagram", "https://www.instagram.com/p/C8abc123/", "not a profile page"),
        ("x", "https://x.com/home", "is a page of X"),
        ("signal", "https://signal.me/#eu/abc", "type the username itself"),
        ("whatsapp", "07400 123456", "international format"),
        ("whatsapp", "+1 123 456 7890", "not a phone number in use"),
        ("website", "http://192.168.1.1/", "private network"),
        ("website", "javascript:alert(1)", "https://"),
        ("website", "https://user:secret@example.org/", "user name or password"),
    ],
)
def test_refusals_say_why(name: str, raw: str, message: str) -> None:
    with pytest.raises(InvalidHandle, match=message):
        network(name).normalize_handle(raw)


@pytest.mark.parametrize(
    ("name", "handle", "shown"),
    [
        ("instagram", "ada.lovelace", "@ada.lovelace"),
        ("x", "ada", "@ada"),
        ("threads", "ada", "@ada"),
        ("tiktok", "ada", "@ada"),
        ("github", "octocat", "@octocat"),
        ("youtube", "adalovelace", "@adalovelace"),
        ("youtube", "UC_x5XG1OV2P6uZZ5FSM9Ttw", "UC_x5XG1OV2P6uZZ5FSM9Ttw"),
        ("reddit", "ada_lovelace", "u/ada_lovelace"),
        ("pixelfed", "ada@pixelfed.social", "@ada@pixelfed.social"),
        ("linkedin", "ada-lovelace", "ada-lovelace"),
        ("discord", "ada.lovelace", "ada.lovelace"),
        ("whatsapp", "+447400123456", "+44 7400 123456"),
        ("viber", "+12015550123", "+1 201-555-0123"),
        ("signal", "+447400123456", "+44 7400 123456"),
        ("signal", "ada.42", "ada.42"),
        ("website", "https://example.org/", "example.org"),
        ("website", "https://example.org/blog/", "example.org/blog/"),
    ],
)
def test_display_handle(name: str, handle: str, shown: str) -> None:
    assert network(name).display_handle(handle) == shown


@pytest.mark.parametrize("name", PHONE_NETWORKS)
@pytest.mark.parametrize(("raw", "e164"), PHONES)
def test_phone_numbers_become_e164(name: str, raw: str, e164: str) -> None:
    assert network(name).normalize_handle(raw) == e164


@pytest.mark.parametrize("name", PHONE_NETWORKS)
@pytest.mark.parametrize("raw", BAD_PHONES)
def test_impossible_phone_numbers_are_refused(name: str, raw: str) -> None:
    with pytest.raises(InvalidHandle):
        network(name).normalize_handle(raw)


def test_wa_me_links_have_the_digits_only() -> None:
    whatsapp = network("whatsapp")
    for raw, e164 in PHONES:
        assert whatsapp.profile_url(whatsapp.normalize_handle(raw)) == "https://wa.me/" + e164[1:]


# -- hostile input ---------------------------------------------------------------------------

HOSTILE = [
    "",
    "   ",
    "\u200b\u200b",
    "\u202e",
    "a" * 1_000_000,
    "@" * 1_000_000,
    "https://x.com/" + "a" * 100_000,
    "\x00",
    "ada\x00\x01\x02\x7f",
    "ada\nlovelace",
    "ada\u202elovelace\u202c.com",
    "\u202eecalevol.ada",
    "ada\ud800",
    "<script>alert(1)</script>",
    "ada'; DROP TABLE users; --",
    "../../etc/passwd",
    "%2e%2e%2f",
    "https://",
    "http://[",
    "https://a.b:notaport/x",
    "ｈｔｔｐｓ://ｅｘａｍｐｌｅ．ｏｒｇ/ａｄａ",
    "ada\u3164",
    "\U0001f600",
]


def _clean_result(result: str) -> bool:
    return all(unicodedata.category(char)[0] not in "CZ" or char == " " for char in result)


@pytest.mark.parametrize("name", NETWORKS)
@pytest.mark.parametrize("raw", HOSTILE, ids=lambda raw: repr(raw[:24]))
def test_hostile_input_is_refused_or_made_clean(name: str, raw: str) -> None:
    cls = network(name)
    try:
        result = cls.normalize_handle(raw)
    except InvalidHandle as refused:
        message = refused.message
    else:
        assert _clean_result(result), result
        assert len(result) <= 2048
        assert cls.normalize_handle(result) == result
        return
    assert 0 < len(message) < 300


@pytest.mark.parametrize("name", NETWORKS)
@pytest.mark.parametrize("raw", [None, 42, b"ada", ["ada"], {"handle": "ada"}])
def test_non_text_is_refused(name: str, raw: object) -> None:
    with pytest.raises(InvalidHandle):
        network(name).normalize_handle(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", NETWORKS)
def test_huge_and_empty_input_is_refused(name: str) -> None:
    cls = network(name)
    for raw in ("", " \t ", "\u200b", "a" * 1_000_000, "9" * 1_000_000):
        with pytest.raises(InvalidHandle):
            cls.normalize_handle(raw)


@pytest.mark.parametrize("name", NETWORKS)
def test_invisible_and_direction_characters_are_ignored(name: str) -> None:
    cls = network(name)
    typed = cls.HANDLE_EXAMPLE
    expected = cls.normalize_handle(typed)
    for noise in ("\u200b", "\u200e", "\u202e", "\u2066", "\ufeff", "\u00ad"):
        assert cls.normalize_handle(noise + typed[:2] + noise + typed[2:] + noise) == expected
    assert cls.normalize_handle(f"  {typed}\n") == expected


@pytest.mark.parametrize("name", [n for n in NETWORKS if n not in PHONE_ONLY])
def test_a_line_break_inside_a_handle_is_not_joined_away(name: str) -> None:
    cls = network(name)
    typed = cls.HANDLE_EXAMPLE
    with pytest.raises(InvalidHandle):
        cls.normalize_handle(typed[:3] + "\n" + typed[3:])


@pytest.mark.parametrize("name", PHONE_NETWORKS)
def test_a_line_break_inside_a_phone_number_is_a_space(name: str) -> None:
    # Numbers are written with spaces: "+44 7400\n123456" is the same number.
    assert network(name).normalize_handle("+44 7400\n123456") == "+447400123456"


@pytest.mark.parametrize("name", [n for n in NETWORKS if n not in ("website", "pixelfed")])
def test_a_trap_address_never_becomes_a_handle(name: str) -> None:
    cls = network(name)
    for raw in (
        "https://evil.example/ada",
        "https://ada.evil.example/",
        "https://example.com@evil.example/ada",
        "ftp://example.org/ada",
        "javascript://%0aalert(1)",
    ):
        with pytest.raises(InvalidHandle):
            cls.normalize_handle(raw)


@pytest.mark.parametrize(
    ("network", "handle", "link", "fills_in"),
    [
        (
            "whatsapp",
            "+447400123456",
            "https://wa.me/447400123456?text=Tea%20at%205%3F%0A%E2%9C%A8",
            True,
        ),
        (
            "email",
            "ada@example.org",
            "mailto:ada@example.org?body=Tea%20at%205%3F%0D%0A%E2%9C%A8",
            True,
        ),
        ("signal", "+447400123456", "https://signal.me/#p/+447400123456", False),
        ("viber", "+447400123456", "viber://chat?number=%2B447400123456", False),
        ("matrix", "@ada:example.org", "https://matrix.to/#/@ada:example.org", False),
        ("github", "ada", None, False),
    ],
)
def test_a_message_is_handed_to_ones_own_app(
    network: str, handle: str, link: str | None, fills_in: bool
) -> None:
    """A messenger Portal does not write on opens in the writer's app: with the text written
    in where the app takes it (WhatsApp's click to chat, mailto's body, RFC 6068), else the
    chat alone; a network where people do not write to each other has no such link."""
    cls = connectors.get(network)
    assert cls is not None
    assert cls.message_link(handle, "Tea at 5?\n✨") == link
    assert cls.FILLS_IN_TEXT is fills_in
