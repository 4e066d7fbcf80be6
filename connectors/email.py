"""Email: an address, proven by a one-time code sent to it.

The address is checked for syntax only (RFC 5321/5322 as email-validator reads them, with
internationalised domains IDNA-encoded); proof is a code the portal mails and the person types
back, so there is no network API here. Links are ``mailto:`` URIs (RFC 6068).
"""

from __future__ import annotations

from urllib.parse import quote

from email_validator import EmailNotValidError, validate_email

from connectors.base import PUBLIC, Connector, Context, InvalidHandle, clean, url_quote


class Email(Connector):
    NAME = "email"
    MESSENGER = True
    LABEL = "Email"
    AUTH = "code"
    HANDLE_LABEL = "Email address"
    HANDLE_EXAMPLE = "ada@example.org"

    @classmethod
    def normalize_handle(cls, raw: str, *, context: Context = PUBLIC) -> str:
        text = clean(raw, max_length=254).removeprefix("mailto:")
        try:
            checked = validate_email(text, check_deliverability=False)
        except EmailNotValidError as error:
            raise InvalidHandle(f"This is not an email address: {error}") from error
        # The local part may be case-sensitive (RFC 5321 §2.4); the domain is not.
        domain = checked.ascii_domain.lower()
        return f"{checked.local_part}@{domain}"

    @classmethod
    def deep_link(cls, handle: str) -> str | None:
        return "mailto:" + url_quote(handle)

    FILLS_IN_TEXT = True

    @classmethod
    def message_link(cls, handle: str, text: str) -> str | None:
        """A ``mailto:`` address with the text as the body (RFC 6068: percent-encoded, line
        breaks as CRLF)."""
        body = quote(text.replace("\r\n", "\n").replace("\n", "\r\n"), safe="")
        return f"mailto:{url_quote(handle)}?body={body}"
