"""Bluesky's profiles and posts as Portal's types, and back: pure functions, no requests.

An ``app.bsky.actor.defs#profileView*`` or the ``app.bsky.actor.profile`` record becomes an
:class:`Actor`, an ``app.bsky.feed.defs#feedViewPost`` a :class:`Post`
(https://docs.bsky.app/docs/api/app-bsky-actor-get-profile,
https://docs.bsky.app/docs/api/app-bsky-feed-get-author-feed); what is published becomes an
``app.bsky.feed.post`` record (https://docs.bsky.app/docs/advanced-guides/posts), and the
record's address a :class:`Published`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from connectors._http import json_text
from connectors.atproto import INVALID_HANDLE, blob_cid, blob_url, is_valid_did, is_valid_handle
from connectors.base import (
    Actor,
    Media,
    PermanentError,
    Post,
    Published,
    Response,
    ResponseKind,
    Thread,
    Upload,
)

NETWORK = "bluesky"
WEB = "https://bsky.app"


def profile_url(handle: str) -> str:
    """The public profile page, which the Bluesky app opens too (a universal link)."""
    return f"{WEB}/profile/{quote(handle, safe=':.-_%')}"


POSTS = "app.bsky.feed.post"
POSTS_PAGE = 50


def posts_address(pds: str, did: str) -> str:
    """Where anyone reads ``did``'s latest posts on its PDS: ``com.atproto.repo.listRecords``
    of the ``app.bsky.feed.post`` collection (https://docs.bsky.app/docs/api/
    com-atproto-repo-list-records), newest first."""
    query = urlencode({"repo": did, "collection": POSTS, "limit": POSTS_PAGE})
    return f"{pds.rstrip('/')}/xrpc/com.atproto.repo.listRecords?{query}"


def post_url(did: str, uri: str) -> str | None:
    """The bsky.app page of the post ``at://<did>/app.bsky.feed.post/<rkey>``."""
    prefix = f"at://{did}/{POSTS}/"
    rkey = uri.removeprefix(prefix)
    if not uri.startswith(prefix) or not rkey or "/" in rkey:
        return None
    return f"{profile_url(did)}/post/{quote(rkey, safe='')}"


def published_post(handle: str, uri: str, cid: str) -> Published:
    """A post's record as the portal keeps it: its AT URI, its CID (what a reply to it names),
    and its bsky.app page, named by the author's handle (the DID where it has none)."""
    rkey = uri.rsplit("/", 1)[-1]
    return Published(id=uri, url=f"{profile_url(handle)}/post/{quote(rkey, safe='')}", ref=cid)


def post_record(
    text: str,
    created_at: datetime,
    *,
    facets: Sequence[Mapping[str, Any]] = (),
    images: Sequence[tuple[Mapping[str, Any], Upload]] = (),
    reply_to: Thread | None = None,
) -> dict[str, Any]:
    """An ``app.bsky.feed.post`` record: the text and its facets, the pictures (each an
    uploaded blob with its upload's alt text and size) as an ``app.bsky.embed.images``, and
    the thread it answers (``reply``: strong references to the root and the parent).

    No ``langs``: it is optional, and the portal does not know the language of a post.
    """
    record: dict[str, Any] = {
        "$type": POSTS,
        "text": text,
        "createdAt": datetime_text(created_at),
    }
    if facets:
        record["facets"] = [dict(facet) for facet in facets]
    if images:
        record["embed"] = {
            "$type": "app.bsky.embed.images",
            "images": [_image(blob, upload) for blob, upload in images],
        }
    if reply_to is not None:
        record["reply"] = {"root": strong_ref(reply_to.root), "parent": strong_ref(reply_to.parent)}
    return record


def _image(blob: Mapping[str, Any], upload: Upload) -> dict[str, Any]:
    """One ``app.bsky.embed.images#image``: the blob, its alt text (required, empty allowed),
    and its ``aspectRatio`` when the size is known, so the app lays it out before loading."""
    image: dict[str, Any] = {"image": dict(blob), "alt": upload.description}
    if upload.width > 0 and upload.height > 0:
        image["aspectRatio"] = {"width": upload.width, "height": upload.height}
    return image


def strong_ref(post: Published) -> dict[str, str]:
    """A ``com.atproto.repo.strongRef`` to a published post: its AT URI and its CID."""
    if not post.id.startswith("at://") or f"/{POSTS}/" not in post.id or not post.ref:
        raise PermanentError("The post this answers is not a Bluesky post Portal published.")
    return {"uri": post.id, "cid": post.ref}


def datetime_text(moment: datetime) -> str:
    """A datetime as the AT Protocol writes one: UTC, milliseconds, ``Z``
    (https://atproto.com/specs/lexicon#datetime)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def actor_from_profile(data: Mapping[str, Any]) -> Actor:
    """An ``app.bsky.actor.defs#profileView`` (Basic, Detailed) as an :class:`Actor`."""
    did = json_text(data.get("did"))
    if not is_valid_did(did):
        raise PermanentError("Bluesky sent a profile without a valid DID.")
    handle = json_text(data.get("handle")).lower()
    shown = handle if handle != INVALID_HANDLE and is_valid_handle(handle) else did
    return _actor(did, shown, data, _web_address(data.get("avatar")))


def actor_from_profile_record(
    did: str, handle: str | None, record: Mapping[str, Any], pds: str
) -> Actor:
    """An account from its ``app.bsky.actor.profile`` record (a ``getRecord`` answer).

    ``handle`` is the confirmed handle (``None`` shows the DID); the avatar blob becomes its
    ``com.atproto.sync.getBlob`` address on the account's PDS.
    """
    value = record.get("value")
    profile: Mapping[str, Any] = value if isinstance(value, Mapping) else {}
    cid = blob_cid(profile.get("avatar"))
    return _actor(did, handle or did, profile, blob_url(pds, did, cid) if cid else None)


def _actor(did: str, shown: str, profile: Mapping[str, Any], avatar: str | None) -> Actor:
    """The account ``did``, shown as ``shown``, with the name and bio of a profile (a view or
    a record: both name them the same)."""
    return Actor(
        network=NETWORK,
        id=did,
        handle=shown,
        display_name=json_text(profile.get("displayName")).strip(),
        url=profile_url(shown),
        avatar_url=avatar,
        bio=json_text(profile.get("description")),
    )


def post_from_feed_view(item: Mapping[str, Any]) -> Post:
    """An ``app.bsky.feed.defs#feedViewPost`` (or a bare ``#postView``) as a :class:`Post`."""
    view = item.get("post", item)
    if not isinstance(view, Mapping):
        raise PermanentError("Bluesky sent a feed item without a post.")
    uri = json_text(view.get("uri"))
    author_data = view.get("author")
    if not uri.startswith("at://") or not isinstance(author_data, Mapping):
        raise PermanentError("Bluesky sent a post without its address or author.")
    author = actor_from_profile(author_data)
    record = view.get("record")
    post: Mapping[str, Any] = record if isinstance(record, Mapping) else {}
    published = moment(post.get("createdAt")) or moment(view.get("indexedAt"))
    if published is None:
        raise PermanentError("Bluesky sent a post without a date.")
    reply = post.get("reply")
    parent = reply.get("parent") if isinstance(reply, Mapping) else None
    rkey = uri.rsplit("/", 1)[1]
    return Post(
        network=NETWORK,
        id=uri,
        author=author,
        published=published,
        text=json_text(post.get("text")),
        url=f"{profile_url(author.handle)}/post/{quote(rkey, safe='')}",
        media=_media(view.get("embed")),
        reply_to=(json_text(parent.get("uri")) or None) if isinstance(parent, Mapping) else None,
    )


def replies_in(thread: Any) -> list[Mapping[str, Any]]:
    """The post views of every reply in a ``threadViewPost``, depth first; replies the
    viewer may not see (``notFoundPost``, ``blockedPost``) and what is below them left out."""
    found: list[Mapping[str, Any]] = []
    below = thread.get("replies") if isinstance(thread, Mapping) else None
    for reply in below if isinstance(below, list) else []:
        if not isinstance(reply, Mapping) or not isinstance(reply.get("post"), Mapping):
            continue
        found.append(reply["post"])
        found += replies_in(reply)
    return found


def response(kind: ResponseKind, view: Mapping[str, Any]) -> Response:
    """A reply or a quote from its ``postView``."""
    return Response.answering(kind, post_from_feed_view(view))


def _media(embed: Any) -> tuple[Media, ...]:
    """Pictures of an embed view: ``images#view``, or the media of ``recordWithMedia#view``."""
    if not isinstance(embed, Mapping):
        return ()
    kind = embed.get("$type")
    if kind == "app.bsky.embed.recordWithMedia#view":
        return _media(embed.get("media"))
    if kind != "app.bsky.embed.images#view":
        return ()
    found = []
    for image in embed.get("images") or []:
        if isinstance(image, Mapping) and json_text(image.get("fullsize")).startswith("https://"):
            found.append(Media(url=image["fullsize"], description=json_text(image.get("alt"))))
    return tuple(found)


def moment(value: Any) -> datetime | None:
    """A datetime of the AT Protocol with its offset, or ``None`` when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        return None
    return found if found.tzinfo is not None else None


def _web_address(value: Any) -> str | None:
    text = json_text(value)
    return text if text.startswith(("https://", "http://")) else None
