"""Changing the text of a post that went out, where the networks allow it (Mastodon, Telegram,
VK, Facebook): the post takes the new text at once, and each copy out there is changed by an
``edit`` job of its own (``portal.domain.jobs``), which says on the post's page how it went.

A copy is changed in place, one post into one post: a copy that went out as a thread, or
whose new text would need one, stays as it was, and the page says so. Copies that have not
gone out yet simply go out with the new text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors import base
from portal.db import session_scope
from portal.domain import jobs, linking
from portal.domain.jobs import Claimed
from portal.domain.linking import oauth
from portal.domain.linking.services import LinkServices, connector
from portal.domain.posts import acting
from portal.domain.posts.compose import (
    EDITING,
    SENT,
    Attached,
    Composed,
    Loaded,
    check_text,
    full_text_url,
    load,
    parts_of,
    version_for,
)
from portal.errors import N_, InvalidInput
from portal.storage.models import LinkedAccount, User
from portal.storage.posts import Delivery, Post, PostMedia

log = logging.getLogger(__name__)

EDIT = "edit"
MAX_ATTEMPTS = 6

CANNOT_EDIT = N_("%(network)s does not let apps change a post: the first text stays there.")
THREAD = N_(
    "This went out as a thread: Portal changes a post of one part only; it stays as it was."
)
NOT_CHANGED = N_("Not changed on %(network)s: %(reason)s")
UNREACHABLE = N_("%(network)s could not be reached: the first text stays there.")


async def change_text(
    session: AsyncSession, user: User, post_id: str, text: str, content_warning: str = ""
) -> Loaded:
    """Give a published post a new text and content warning: each copy out there is changed
    where its network allows (in the background), each one still to go goes with it."""
    loaded = await load(session, user, post_id)
    post = loaded.post
    if post.state != "published":
        raise InvalidInput(
            N_(
                "Only a post that went out is changed here; a draft or a scheduled post is "
                "changed in its form."
            ),
            field="text",
        )
    pictures = [Attached(m.id, m.description, m.no_description) for m in loaded.media]
    text, warning = check_text(
        Composed(text, (), pictures=pictures, content_warning=content_warning)
    )
    if (text, warning) == (post.text, post.content_warning):
        return loaded
    post.text, post.content_warning = text, warning
    for delivery in loaded.deliveries:
        delivery.text = None  # one text everywhere again
        if delivery.status not in (SENT, EDITING):
            continue
        cls = connector(delivery.network)
        if not cls.CAN_EDIT:
            delivery.error = CANNOT_EDIT % {"network": cls.LABEL}
        elif len(parts_of(delivery)) != 1:
            delivery.error = THREAD
        else:
            delivery.status, delivery.error = EDITING, ""
            await jobs.enqueue(session, EDIT, str(delivery.id))
    await session.flush()
    return loaded


@dataclass
class Editing:
    """The handler of ``edit`` jobs: change one copy's text on its network."""

    sessions: async_sessionmaker[AsyncSession]
    services: LinkServices
    listener: Callable[[str, int], None] | None = None

    def handlers(self) -> Mapping[str, jobs.Handler]:
        return {EDIT: self.edit}

    async def edit(self, job: Claimed) -> float | None:
        async with session_scope(self.sessions) as session:
            delivery = await session.get(Delivery, int(job.subject))
            if delivery is None or delivery.status != EDITING:
                return None
            post = await session.get(Post, delivery.post_id)
            account = (
                await session.get(LinkedAccount, delivery.account_id)
                if delivery.account_id is not None
                else None
            )
            if post is not None and account is not None and post.state == "published":
                credentials = linking.load_credentials(self.services, account)
                renew = oauth.refresh_due(connector(account.network), account, credentials)
                pictures = await session.scalar(
                    select(func.count()).select_from(PostMedia).where(PostMedia.post_id == post.id)
                )
        if post is None or account is None or post.state != "published":
            await self._end(job, "")  # unlinked, or deleted meanwhile: nothing to change
            return None
        (part,) = parts_of(delivery)
        cls = connector(account.network)
        label = cls.LABEL
        if renew:
            credentials = (
                await acting.renew_token(self.sessions, self.services, account.id) or credentials
            )
        credentials = credentials or base.Credentials()
        try:
            async with self.services.http() as http:
                instance = cls(account.handle, credentials, http, context=self.services.context)
                rules = await instance.post_rules()
                version = version_for(
                    account,
                    post.text,
                    fit="shorten" if delivery.fit == "shorten" else "thread",
                    media=int(pictures or 0),
                    content_warning=post.content_warning,
                    full_text_url=full_text_url(self.services.base_url, post.id),
                    rules=rules,
                )
                parts = version.parts or ("",)  # pictures alone: the text taken away
                if version.problems or len(parts) != 1:
                    reason = version.problems[0] if version.problems else THREAD
                    await self._end(job, NOT_CHANGED % {"network": label, "reason": reason})
                    return None
                draft = base.Draft(
                    parts[0],
                    content_warning=post.content_warning if rules.content_warning else "",
                    destination=delivery.destination,
                )
                try:
                    await instance.edit_post(part, draft)
                finally:
                    await acting.keep_renewed(
                        self.sessions, self.services, account.id, credentials, instance
                    )
        except base.RateLimited as error:
            return (
                error.retry_after if error.retry_after is not None else jobs.backoff(job.attempts)
            )
        except (base.Retriable, httpx.HTTPError) as error:
            log.info("edit of delivery %s: %s", job.subject, error)
            if job.attempts >= MAX_ATTEMPTS:
                await self._end(job, UNREACHABLE % {"network": label})
                return None
            return jobs.backoff(job.attempts)
        except base.ConnectorError as error:
            await self._end(job, NOT_CHANGED % {"network": label, "reason": error.message})
            return None
        await self._end(job, "")
        return None

    async def _end(self, job: Claimed, error: str) -> None:
        """The copy is as it will stay: sent, with what went wrong if anything did."""
        delivery_id = int(job.subject)
        async with session_scope(self.sessions, writing=True) as session:
            delivery = await session.get(Delivery, delivery_id)
            if delivery is None or delivery.status != EDITING:
                return
            delivery.status, delivery.error = SENT, error[:500]
            post_id = delivery.post_id
        if self.listener is not None:
            self.listener(post_id, delivery_id)
