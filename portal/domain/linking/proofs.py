"""Proofs of ownership other than OAuth: signing in, a signed login widget, an emailed code,
and a link back from the account's public page (``rel="me"``)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import connectors
from connectors import base, telegram
from connectors._http import read_capped
from portal import mail
from portal.db import write_next
from portal.domain import linking
from portal.domain.codes import CodeCheck
from portal.domain.linking.services import LinkServices, connector, connector_errors, normalize
from portal.domain.linking.strategies import strategy_for
from portal.errors import InvalidInput, NotFound
from portal.storage.models import LinkAttempt, LinkedAccount, User, utcnow

log = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=15)
CODE_ATTEMPTS = 5
WIDGET_MAX_AGE = timedelta(minutes=15)
MAX_SECRET = 1024
PAGE_LIMIT = 1024 * 1024
MAX_REDIRECTS = 3


# -- signing in ------------------------------------------------------------------------------


async def link_by_sign_in(
    session: AsyncSession,
    services: LinkServices,
    user: User,
    network: str,
    handle: str,
    secret: str,
    *,
    account_id: int | None = None,
) -> LinkedAccount:
    """Prove an account by signing in to it (Matrix, XMPP, a Bluesky app password)."""
    cls = connector(network)
    if not strategy_for(cls).signs_in:
        raise InvalidInput(
            "%(network)s accounts are not linked with a password.", network=cls.LABEL
        )
    normalized = normalize(cls, handle, services.context)
    if not secret:
        raise InvalidInput("Enter the password.", field="password")
    if len(secret) > MAX_SECRET or "\x00" in secret:
        raise InvalidInput("This password cannot be right.", field="password")
    async with services.http() as http:
        with connector_errors(cls.LABEL, field="password"):
            linked = await cls.sign_in(normalized, secret, http, context=services.context)
    # Written in a transaction that writes from its start, not in the one that read before
    # the server answered: another writer may have committed meanwhile (portal.db.write_next).
    await write_next(session)
    account, _ = await linking.save_proven(
        session, services, user, network, linked, proof="password", account_id=account_id
    )
    return account


# -- the Telegram login widget ---------------------------------------------------------------


async def link_by_widget(
    session: AsyncSession, services: LinkServices, user: User, data: Mapping[str, str]
) -> LinkedAccount:
    """Prove a Telegram account by the Login Widget's signed answer."""
    if not services.telegram_bot_token:
        raise InvalidInput("This portal has no Telegram bot, so Telegram cannot be verified here.")
    with connector_errors(telegram.Telegram.LABEL):
        actor = telegram.verify_login(data, services.telegram_bot_token, max_age=WIDGET_MAX_AGE)
    await _use_once(session, services, user, str(data.get("hash", "")).lower())
    # The account's number is what publishing into a channel checks the admins against.
    linked = base.Linked(actor, base.Credentials(extra={"id": actor.id}))
    account, _ = await linking.save_proven(
        session, services, user, "telegram", linked, proof="widget"
    )
    return account


async def _use_once(
    session: AsyncSession, services: LinkServices, user: User, signature: str
) -> None:
    """Record a widget answer as used, or refuse one already used (by anyone).

    The answer is not bound to the person who asked for it: whoever holds its address (a
    browser's history, a proxy's log) could present it while it is fresh. Kept until it would
    be stale anyway; the caller keeps this write even when linking then fails.
    """
    digest = hashlib.sha256(f"telegram-widget:{signature}".encode()).hexdigest()
    refused = InvalidInput("This Telegram login was already used. Log in with Telegram again.")
    if await session.get(LinkAttempt, digest) is not None:
        raise refused
    try:
        async with session.begin_nested():
            session.add(
                LinkAttempt(
                    id_hash=digest,
                    user_id=user.id,
                    network="telegram",
                    secrets=services.vault.encrypt_json({}),
                    attempts=1,
                    expires_at=utcnow() + WIDGET_MAX_AGE + telegram.FUTURE_SKEW,
                )
            )
    except IntegrityError as error:  # the same answer, presented twice at the same moment
        raise refused from error


# -- email codes -----------------------------------------------------------------------------


def _code_digest(attempt_id: str, code: str) -> str:
    return hashlib.sha256(f"{attempt_id}:{code}".encode()).hexdigest()


async def send_email_code(
    session: AsyncSession, services: LinkServices, user: User, address: str
) -> LinkedAccount:
    """Add an email address (or take the one already listed) and mail it a six-digit code."""
    cls = connector("email")
    if not services.smtp_url:
        raise InvalidInput("This portal cannot send email, so addresses cannot be verified here.")
    handle = normalize(cls, address, services.context)
    account = await linking.find_account(session, user, "email", handle)
    account = account or await linking.add_handle(session, user, "email", handle)
    if account.status == linking.VERIFIED:
        raise InvalidInput("This address is already verified.", field="handle")
    await session.execute(delete(LinkAttempt).where(LinkAttempt.linked_account_id == account.id))
    attempt_id = secrets.token_urlsafe(24)
    code = f"{secrets.randbelow(10**6):06d}"
    session.add(
        LinkAttempt(
            id_hash=hashlib.sha256(attempt_id.encode()).hexdigest(),
            user_id=user.id,
            network="email",
            linked_account_id=account.id,
            secrets=services.vault.encrypt_json(
                {"attempt": attempt_id, "code": _code_digest(attempt_id, code)}
            ),
            expires_at=utcnow() + CODE_TTL,
        )
    )
    await session.flush()
    try:
        await mail.send(
            services.smtp_url,
            sender=services.mail_from,
            to=handle,
            subject=f"Your Portal code: {code}",
            text=(
                f"Your code is {code}.\n\n"
                f"Type it on {services.base_url}/me/accounts to show that this address is yours. "
                f"It works for {int(CODE_TTL.total_seconds() // 60)} minutes.\n\n"
                "If you did not ask for it, ignore this email: nothing happens without the code.\n"
            ),
        )
    except mail.MailError as error:
        log.warning("email code not sent: %s", error)
        raise linking.NetworkUnavailable(
            "The code could not be sent. Try again in a moment."
        ) from error
    return account


@dataclass(frozen=True)
class AccountCodeCheck(CodeCheck):
    """:class:`~portal.domain.codes.CodeCheck` of the code mailed for an account."""

    account: LinkedAccount


async def _pending_code(session: AsyncSession, account: LinkedAccount) -> LinkAttempt | None:
    stmt = select(LinkAttempt).where(LinkAttempt.linked_account_id == account.id)
    return (await session.scalars(stmt)).one_or_none()


async def confirm_email_code(
    session: AsyncSession, services: LinkServices, user: User, account_id: int, code: str
) -> AccountCodeCheck:
    """Check a code. A wrong one is counted (the caller must keep that write); five wrong
    codes end the attempt."""
    account = await linking.get_account(session, user, account_id)
    if account.network != "email":
        raise NotFound("This linked account has no email code.")
    attempt = await _pending_code(session, account)
    if attempt is None or attempt.expires_at < utcnow():
        raise InvalidInput("There is no code waiting for this address. Ask for a new one.")
    typed = "".join(code.split())
    kept = services.vault.decrypt_json(attempt.secrets)
    right = len(typed) == 6 and hmac.compare_digest(
        _code_digest(kept["attempt"], typed), kept["code"]
    )
    if right:
        await session.delete(attempt)
        linking.mark_verified(account, "code")
        await session.flush()
        return AccountCodeCheck(verified=True, left=0, account=account)
    attempt.attempts += 1
    left = max(0, CODE_ATTEMPTS - attempt.attempts)
    if not left:
        await session.delete(attempt)
    await session.flush()
    return AccountCodeCheck(verified=False, left=left, account=account)


async def attempts_left(session: AsyncSession, account: LinkedAccount) -> int:
    attempt = await _pending_code(session, account)
    return 0 if attempt is None else max(0, CODE_ATTEMPTS - attempt.attempts)


# -- rel="me" --------------------------------------------------------------------------------


class _RelMe(HTMLParser):
    """Collects the targets of ``<a rel="me">`` and ``<link rel="me">``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "base" and self.base is None and values.get("href"):
            self.base = values["href"]
        if tag in ("a", "link") and "me" in values.get("rel", "").lower().split():
            href = values.get("href", "").strip()
            if href:
                self.links.append(href)


def _comparable(url: str) -> str:
    parts = urlsplit(url.strip())
    scheme = "https" if parts.scheme in ("http", "https") else parts.scheme
    return urlunsplit((scheme, (parts.hostname or "").lower(), parts.path.rstrip("/"), "", ""))


def rel_me_links(html: str, page_url: str) -> list[str]:
    parser = _RelMe()
    parser.feed(html)
    parser.close()
    base_url = urljoin(page_url, parser.base) if parser.base else page_url
    return [urljoin(base_url, href) for href in parser.links]


async def _fetch_page(http: httpx.AsyncClient, url: str) -> tuple[str, str]:
    """The HTML of a public page, following at most three redirects, each checked again."""
    for _ in range(MAX_REDIRECTS + 1):
        if urlsplit(url).scheme not in ("http", "https"):
            raise base.PermanentError("The page redirects to an address that is not a web page.")
        async with http.stream("GET", url, headers={"accept": "text/html"}) as response:
            if response.is_redirect:
                url = urljoin(url, response.headers.get("location", ""))
                continue
            if response.status_code >= 500:
                raise base.Retriable(f"the page answered {response.status_code}")
            if response.status_code != 200:
                raise base.PermanentError(f"The page answered {response.status_code}.")
            kind = response.headers.get("content-type", "")
            if "html" not in kind:
                raise base.PermanentError("The page is not HTML.")
            try:
                body = await read_capped(response, PAGE_LIMIT)
            except httpx.DecodingError as error:
                raise base.PermanentError("The page cannot be read.") from error
            if body is None:
                raise base.PermanentError(
                    f"The page is larger than {PAGE_LIMIT // 2**20} MB, which no profile "
                    "page needs: link from a smaller page."
                )
            return body.decode(response.encoding or "utf-8", errors="replace"), url
    raise base.PermanentError("The page redirects too many times.")


def verifiable_by_link(network: str) -> bool:
    """Whether an account of ``network`` is verified by a rel="me" link back from its page:
    a page its owner writes links on (a website, a GitHub profile), not a messenger's
    contact link (WhatsApp, Telegram, Signal …)."""
    cls = connectors.get(network)
    return cls is not None and _by_link(cls)


def _by_link(cls: type[base.Connector]) -> bool:
    return strategy_for(cls).by_link


async def verify_by_link(
    session: AsyncSession, services: LinkServices, user: User, account_id: int
) -> LinkedAccount:
    """Verify an account whose public page links back to this person's portal page."""
    account = await linking.get_account(session, user, account_id)
    cls = connector(account.network)
    page = cls.profile_url(account.handle)
    if not _by_link(cls) or not page or not page.startswith(("http://", "https://")):
        raise InvalidInput(
            "%(network)s has no public page that could link back to you.", network=cls.LABEL
        )
    mine = f"{services.base_url}/n/{user.number}"
    async with services.http() as http:
        with connector_errors(cls.LABEL):
            try:
                html, final_url = await _fetch_page(http, page)
            except httpx.InvalidURL as error:
                # httpx reads the Location of a redirect it will not follow, and a
                # ``javascript:`` or ``mailto:`` one raises this, which is no HTTPError.
                raise base.PermanentError(
                    "The page redirects to an address that is not a web page."
                ) from error
            except httpx.TimeoutException as error:
                raise base.Retriable("the page did not answer in time") from error
            except httpx.HTTPError as error:
                # A private address too (BlockedAddress): no hint which names lead inside.
                raise base.Retriable("the page could not be reached") from error
    targets = {_comparable(link) for link in rel_me_links(html, final_url)}
    if _comparable(mine) not in targets:
        raise InvalidInput(
            'The page %(page)s has no rel="me" link to %(mine)s. Add '
            '<a rel="me" href="%(mine)s"> to it, then try again.',
            page=page,
            mine=mine,
        )
    linking.mark_verified(account, "link")
    await session.flush()
    return account
