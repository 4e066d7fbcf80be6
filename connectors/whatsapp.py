"""WhatsApp: a person is their phone number; the link is a click-to-chat ``wa.me`` address.

Why it looks like this:

- WhatsApp accounts are phone numbers, so the handle is the number in E.164 (``+447400123456``),
  parsed and checked against each country's numbering plan by ``phonenumbers``
  (https://github.com/daviddrysdale/python-phonenumbers). Numbers that cannot exist are refused.
- "How to use click to chat" (WhatsApp Help Center, https://faq.whatsapp.com/): the link is
  ``https://wa.me/<number>`` with the full international number, digits only: no ``+``, no
  leading zeroes, brackets or dashes. The same address opens the app where it is installed
  and WhatsApp Web elsewhere, so it is both the profile link and the deep link.
  ``api.whatsapp.com/send?phone=`` is the older form of it. ``?text=`` (URL-encoded) writes
  a message in, ready to send: how Portal hands a message over to the writer's own app.
- There is no API that could prove a number belongs to someone: the link is all there is.
"""

from __future__ import annotations

from urllib.parse import quote

from connectors._profile import PhoneLink
from connectors.base import url_quote


class WhatsApp(PhoneLink):
    NAME = "whatsapp"
    MESSENGER = True
    LABEL = "WhatsApp"
    HOSTS = ("wa.me", "api.whatsapp.com", "web.whatsapp.com")
    PROFILE_PATHS = (r"\+?(?P<handle>[0-9]+)",)

    @classmethod
    def handle_from_path(cls, path: str, query: dict[str, list[str]]) -> str | None:
        if path == "send" and query.get("phone"):
            # parse_qs reads an unescaped "+" as a space: the number is international anyway.
            return query["phone"][0].strip()
        return super().handle_from_path(path, query)

    FILLS_IN_TEXT = True

    @classmethod
    def profile_url(cls, handle: str) -> str | None:
        return "https://wa.me/" + url_quote(handle.removeprefix("+"))

    @classmethod
    def message_link(cls, handle: str, text: str) -> str | None:
        return f"{cls.profile_url(handle)}?text={quote(text, safe='')}"
