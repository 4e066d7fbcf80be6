"""The unified feed and the feeds I follow.

A source is named by its id; one I do not subscribe to answers exactly as one that does not
exist, and every route that takes an id (a source's, an entry's) counts as a lookup, as routes
that take a number do (:func:`portal.domain.lookup.counted`). Pages of the feed go by an
opaque cursor: pass a page's ``next_cursor`` to get the next one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from portal import i18n
from portal.api.deps import ApiUser
from portal.api.schemas import errors
from portal.db import write_next
from portal.deps import DB, LimiterDep, Services, calls_out, client_address
from portal.domain import lookup
from portal.domain.feeds import read as feed
from portal.domain.feeds import sources
from portal.errors import InvalidInput
from portal.storage.models import MAX_ID, User

router = APIRouter(prefix="/api/v1", tags=["feed"])

SourcePath = Annotated[int, Path(ge=1, le=MAX_ID, description="The source's id.")]
EntryPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The entry's id.")]
OPML_TYPES = ("text/x-opml", "application/xml", "text/xml")


# --- bodies -----------------------------------------------------------------------------------


class HealthOut(BaseModel):
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None = Field(description="What went wrong at the last poll, in words.")
    failures: int = Field(description="Failed polls in a row.")
    next_poll_at: datetime
    paused: bool = Field(description="Polls stopped after a week of failures; refresh resumes.")


class SourceOut(BaseModel):
    id: int
    url: str
    title: str = Field(description="My own title for it, else the feed's.")
    own_title: str
    feed_title: str
    folder: str
    site_url: str | None
    kind: str = Field(examples=["rss", "atom", "json"])
    network: str = Field(
        description="`feed`, or the network of my own timeline there, read with my linked "
        "account (a Mastodon home, the accounts I follow on Bluesky).",
        examples=["feed", "mastodon"],
    )
    private: bool = Field(description="My own timeline: its `url` is no web address.")
    subscribed_at: datetime
    health: HealthOut

    @classmethod
    def of(cls, source: sources.Subscribed, language: str) -> SourceOut:
        health = source.health
        error = None
        if health.last_error:
            error = i18n.translate(language, health.last_error, health.error_params)
        return cls(
            id=source.source_id,
            url=source.url,
            title=source.title,
            own_title=source.own_title,
            feed_title=source.feed_title,
            folder=source.folder,
            site_url=source.site_url,
            kind=source.kind,
            network=source.network,
            private=source.private,
            subscribed_at=source.subscribed_at,
            health=HealthOut(
                last_polled_at=health.last_polled_at,
                last_success_at=health.last_success_at,
                last_error=error,
                failures=health.failures,
                next_poll_at=health.next_poll_at,
                paused=health.paused,
            ),
        )


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=2000,
        description="A feed's address, or a web page that names its feed.",
        examples=["https://example.org/feed.xml"],
    )
    folder: str = Field(default="", max_length=200, description="At most 100 characters.")


class SourcePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(
        default=None, max_length=1000, description="My own title; empty for the feed's."
    )
    folder: str | None = Field(default=None, max_length=200, description="Empty for none.")


class PersonOut(BaseModel):
    number: str
    display_number: str
    display_name: str | None = Field(description="Null when they do not show me their name.")


class FeedSourceOut(BaseModel):
    id: int
    title: str
    network: str = Field(description="'feed' for a feed I follow myself.")
    account_id: int | None = Field(description="The linked account it came through.")


class EntryOut(BaseModel):
    id: int
    cursor: str = Field(description="This entry's place, for 'up_to' when marking read.")
    source: FeedSourceOut
    person: PersonOut | None = Field(description="Whom I follow it through, if anyone.")
    title: str
    link: str | None
    html: str = Field(description="Sanitised HTML.")
    author: str | None
    image: str | None
    published_at: datetime | None
    updated_at: datetime | None
    sort_at: datetime
    read: bool
    starred: bool

    @classmethod
    def of(cls, item: feed.Item) -> EntryOut:
        person = None
        if item.person is not None:
            person = PersonOut(
                number=item.person.number,
                display_number=item.person.display_number,
                display_name=item.person.display_name,
            )
        return cls(
            id=item.id,
            cursor=item.position.cursor(),
            source=FeedSourceOut(
                id=item.source_id,
                title=item.source_title,
                network=item.network,
                account_id=item.account_id,
            ),
            person=person,
            title=item.title,
            link=item.link,
            html=item.html,
            author=item.author,
            image=item.image,
            published_at=item.published_at,
            updated_at=item.updated_at,
            sort_at=item.sort_at,
            read=item.read,
            starred=item.starred,
        )


class FeedPageOut(BaseModel):
    items: list[EntryOut]
    next_cursor: str | None = Field(description="The next page's cursor; null on the last.")


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    network: str | None = Field(default=None, max_length=40)
    number: str | None = Field(default=None, max_length=100)
    source: int | None = Field(default=None, ge=1, le=MAX_ID)
    folder: str | None = Field(default=None, max_length=200)
    unread: bool = False
    starred: bool = False
    q: str | None = Field(default=None, max_length=feed.MAX_QUERY)

    def filters(self) -> feed.Filters:
        return feed.Filters(
            network=self.network or None,
            number=self.number or None,
            source_id=self.source,
            folder=self.folder or None,
            unread=self.unread,
            starred=self.starred,
            q=self.q or None,
        )


class ReadIn(FiltersIn):
    """Either ``ids``, or every entry at ``up_to`` and older that the filters keep."""

    ids: list[int] | None = Field(default=None, max_length=feed.MAX_IDS)
    up_to: str | None = Field(
        default=None,
        max_length=200,
        description="An entry's cursor: it and every older entry the filters keep.",
    )
    all: bool = Field(default=False, description="Every entry the filters keep.")
    read: bool = Field(default=True, description="False marks them unread again.")


class ReadOut(BaseModel):
    changed: int = Field(description="Entries whose state changed.")


class ImportOut(BaseModel):
    added: int
    already: int = Field(description="Feeds of the list I follow already.")
    unreadable: int = Field(description="Outlines whose address cannot be followed.")


# --- sources ----------------------------------------------------------------------------------


@router.get("/sources", response_model=list[SourceOut], responses=errors(401, 403))
async def list_sources(request: Request, db: DB, user: ApiUser) -> list[SourceOut]:
    """The feeds I follow, each with its health."""
    language = i18n.negotiate(request)
    return [SourceOut.of(s, language) for s in await sources.list_sources(db, user)]


@router.post(
    "/sources",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(calls_out)],
    response_model=SourceOut,
    responses=errors(401, 403, 409, 429),
)
async def add_source(
    body: SourceIn,
    request: Request,
    db: DB,
    user: ApiUser,
    services: Services,
    limiter: LimiterDep,
) -> SourceOut:
    """Follow a feed, by its address or a page that names it; addresses inside private
    networks are refused."""
    await limiter.hit("feed_fetch", str(user.id))
    async with services.http() as http:
        added = await sources.subscribe(db, user, body.url, http=http, folder=body.folder)
    return SourceOut.of(added, i18n.negotiate(request))


@router.get("/sources/opml", responses={200: {"content": {"text/x-opml": {}}}, **errors(401, 403)})
async def export_opml(db: DB, user: ApiUser) -> Response:
    """The feeds I follow as an OPML list, for another feed reader."""
    document = await sources.export_opml(db, user, title=f"Portal {user.number}")
    return Response(
        document,
        media_type="text/x-opml",
        headers={"content-disposition": 'attachment; filename="portal-feeds.opml"'},
    )


@router.post(
    "/sources/opml",
    response_model=ImportOut,
    responses=errors(401, 403),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "An OPML subscription list, as the file's bytes.",
            "content": {t: {"schema": {"type": "string"}} for t in OPML_TYPES},
        }
    },
)
async def import_opml(request: Request, db: DB, user: ApiUser, limiter: LimiterDep) -> ImportOut:
    """Follow every feed of an OPML list; new feeds are fetched soon after, not now."""
    document = await request.body()
    if not document:
        raise InvalidInput("Send the OPML list as the request body.", field="opml")
    await limiter.hit("feed_fetch", str(user.id))  # each new feed is fetched soon
    report = await sources.import_opml(db, user, document)
    return ImportOut(added=report.added, already=report.already, unreadable=report.unreadable)


@router.patch(
    "/sources/{source_id:int}", response_model=SourceOut, responses=errors(401, 403, 404, 429)
)
async def update_source(
    source_id: SourcePath,
    body: SourcePatch,
    request: Request,
    db: DB,
    user: ApiUser,
    limiter: LimiterDep,
) -> SourceOut:
    """Give a feed a title of my own, or put it in a folder; fields left out stay."""
    updated = await lookup.counted(
        limiter,
        user,
        client_address(request),
        sources.update_source(db, user, source_id, title=body.title, folder=body.folder),
    )
    return SourceOut.of(updated, i18n.negotiate(request))


@router.delete(
    "/sources/{source_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 429),
)
async def delete_source(
    source_id: SourcePath, request: Request, db: DB, user: ApiUser, limiter: LimiterDep
) -> Response:
    """Stop following a feed."""
    await lookup.counted(
        limiter, user, client_address(request), sources.unsubscribe(db, user, source_id)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/sources/{source_id:int}/refresh",
    dependencies=[Depends(calls_out)],
    response_model=SourceOut,
    responses=errors(401, 403, 404, 429),
)
async def refresh_source(
    source_id: SourcePath,
    request: Request,
    db: DB,
    user: ApiUser,
    services: Services,
    limiter: LimiterDep,
) -> SourceOut:
    """Fetch a feed now (a paused one too); its health says how it went."""
    await limiter.hit("feed_fetch", str(user.id))
    found = await lookup.counted(
        limiter, user, client_address(request), sources.own(db, user, source_id)
    )
    await write_next(db)  # no transaction stays open while the feed's server answers
    async with services.http() as http:
        refreshed = await sources.refresh(db, found, http=http)
    return SourceOut.of(refreshed, i18n.negotiate(request))


# --- the feed ---------------------------------------------------------------------------------


@router.get("/feed", response_model=FeedPageOut, responses=errors(401, 403))
async def get_feed(
    db: DB,
    user: ApiUser,
    cursor: str | None = Query(None, max_length=200, description="A page's next_cursor."),
    network: str | None = Query(
        None, max_length=40, description="A network, or 'feed' for the feeds I follow myself."
    ),
    number: str | None = Query(None, max_length=100, description="Someone I follow."),
    source: int | None = Query(None, ge=1, le=MAX_ID, description="One source's id."),
    folder: str | None = Query(None, max_length=200),
    unread: bool = Query(False, description="Only entries I have not read."),
    starred: bool = Query(False, description="Only entries I starred."),
    q: str | None = Query(None, max_length=feed.MAX_QUERY, description="Words all present."),
    limit: int = Query(feed.PAGE_SIZE, ge=1, le=feed.MAX_PAGE_SIZE),
) -> FeedPageOut:
    """My unified feed, newest first: my feeds and those of the people I follow."""
    filters = FiltersIn(
        network=network,
        number=number,
        source=source,
        folder=folder,
        unread=unread,
        starred=starred,
        q=q,
    ).filters()
    after = feed.position(cursor) if cursor else None
    page = await feed.timeline(db, user, filters, after=after, limit=limit)
    return FeedPageOut(items=[EntryOut.of(i) for i in page.items], next_cursor=page.next_cursor)


@router.post("/feed/read", response_model=ReadOut, responses=errors(401, 403))
async def mark_read(body: ReadIn, db: DB, user: ApiUser) -> ReadOut:
    """Mark entries read (or unread with "read": false): by "ids", or every entry the filters
    keep at "up_to" (an entry's cursor) and older, or with "all" every one. Entries
    not in my feed are passed over."""
    if (body.ids is not None) == (body.all or body.up_to is not None):
        raise InvalidInput('Send either "ids", or "up_to" or "all": true.', field="ids")
    if body.ids is not None:
        changed = await feed.mark_read(db, user, body.ids, read=body.read)
    else:
        up_to = feed.position(body.up_to, field="up_to") if body.up_to else None
        changed = await feed.mark_all_read(db, user, body.filters(), up_to=up_to, read=body.read)
    return ReadOut(changed=changed)


@router.put(
    "/feed/{entry_id:int}/star",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 429),
)
async def star_entry(
    entry_id: EntryPath, request: Request, db: DB, user: ApiUser, limiter: LimiterDep
) -> Response:
    """Star an entry of my feed."""
    return await _star(entry_id, request, db, user, limiter, starred=True)


@router.delete(
    "/feed/{entry_id:int}/star",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 429),
)
async def unstar_entry(
    entry_id: EntryPath, request: Request, db: DB, user: ApiUser, limiter: LimiterDep
) -> Response:
    """Take the star off an entry of my feed."""
    return await _star(entry_id, request, db, user, limiter, starred=False)


async def _star(
    entry_id: int, request: Request, db: DB, user: User, limiter: LimiterDep, *, starred: bool
) -> Response:
    """Counted as a lookup: an entry not in my feed is a miss, answered as an unknown one."""
    await lookup.counted(
        limiter, user, client_address(request), feed.star(db, user, entry_id, starred=starred)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
