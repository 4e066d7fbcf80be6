"""Cross-posting pages: compose with previews, pictures without JavaScript, the post's page
with its deliveries, retry and cancel, delete, and the public page of the whole text."""

from __future__ import annotations

import io
import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal import __version__
from portal.deps import job_worker
from portal.storage.models import User, utcnow
from portal.storage.posts import Post
from tests.fixtures.app import HTML, csrf_from
from tests.fixtures.publishing import mastodon_account

HTMX = {**HTML, "hx-request": "true"}


async def _ada_account(db: AsyncSession, app: FastAPI) -> int:
    user = await db.scalar(select(User).where(User.email == "ada@example.org"))
    assert user is not None
    linked = await mastodon_account(db, app, user)
    await db.commit()
    return linked.id


async def _run(app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    worker = job_worker(app.state.settings, sessionmaker, app.state.links, concurrency=1)
    return await worker.run_due()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "orange").save(out, "PNG")
    return out.getvalue()


async def _compose(client: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    page = await client.get("/posts/new", headers=HTML)
    data = {"csrf_token": csrf_from(page.text), "when": "now", **fields}
    files = fields.pop("files", None)
    data.pop("files", None)
    return await client.post("/posts", data=data, files=files, headers=HTML)


async def test_without_publishing_accounts_the_page_says_what_to_do(signed_in) -> None:
    page = await signed_in.get("/posts/new", headers=HTML)
    assert page.status_code == 200
    assert "None of your linked accounts can publish yet." in page.text
    assert 'href="/me/accounts/add"' in page.text


async def test_compose_preview_publish_and_follow_the_delivery(
    signed_in, db, app, sessionmaker, instance
) -> None:
    account_id = await _ada_account(db, app)
    page = await signed_in.get("/posts/new", headers=HTML)
    assert f'name="target" value="{account_id}"' in page.text
    assert 'hx-post="/posts/preview"' in page.text

    long_text = " ".join(f"word{n}" for n in range(120))
    preview = await signed_in.post(
        "/posts/preview",
        data={
            "csrf_token": csrf_from(page.text),
            "text": long_text,
            "target": str(account_id),
            f"fit-{account_id}": "thread",
        },
        headers=HTMX,
    )
    assert preview.status_code == 200
    assert "Mastodon @ada@mastodon.example" in preview.text
    assert "A thread of 2 posts" in preview.text
    assert preview.text.count('class="preview-part"') == 2

    created = await _compose(signed_in, text="Hello, networks", target=str(account_id))
    assert created.status_code == 303, created.text
    post_url = created.headers["location"]
    shown = await signed_in.get(post_url, headers=HTML)
    assert "Hello, networks" in shown.text and "Queued" in shown.text
    assert 'data-stream="/posts/' in shown.text  # live while it is under way
    # What the stream compares with is its own; the page's static addresses and its footer
    # keep the portal's version.
    assert re.search(r'data-stream="/posts/[\w-]+/stream\?seen=[0-9a-f]{16}"', shown.text)
    assert f'href="/static/app.css?v={__version__}"' in shown.text
    assert f"Portal {__version__} ·" in shown.text

    assert await _run(app, sessionmaker) == 1
    shown = await signed_in.get(post_url, headers=HTML)
    assert "Sent" in shown.text and "https://mastodon.example/@ada/1000" in shown.text
    # Still live: in its first hour out, its answers are read every two minutes.
    assert 'data-stream="/posts/' in shown.text
    assert "No answers yet." in shown.text
    listing = await signed_in.get("/posts", headers=HTML)
    assert post_url in listing.text and "Sent" in listing.text

    post_id = post_url.rsplit("/", 1)[-1]
    public = await httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://portal.test"
    ).get(f"/p/{post_id}", headers=HTML)
    assert public.status_code == 200 and "Hello, networks" in public.text


async def test_a_picture_chosen_without_javascript_comes_back_to_be_described(
    signed_in, db, app, sessionmaker, instance
) -> None:
    account_id = await _ada_account(db, app)
    first = await _compose(
        signed_in,
        text="Look",
        target=str(account_id),
        files={"pictures": ("p.png", _png(), "image/png")},
    )
    assert first.status_code == 422
    assert "Describe each picture" in first.text
    media_id = re.search(r'name="media" value="([\w-]+)"', first.text)
    assert media_id, "the uploaded picture is kept in the form"
    # The picture is kept; nothing of the refused post is.
    assert list(await db.scalars(select(Post.id))) == []
    again = await signed_in.post(
        "/posts",
        data={
            "csrf_token": csrf_from(first.text),
            "when": "now",
            "text": "Look",
            "target": str(account_id),
            "media": media_id.group(1),
            f"alt-{media_id.group(1)}": "An orange rectangle",
        },
        headers=HTML,
    )
    assert again.status_code == 303, again.text
    assert len(list(await db.scalars(select(Post.id)))) == 1
    await _run(app, sessionmaker)
    (form,) = instance.posted
    assert form["media_ids[]"] == ["900"]


async def test_htmx_uploads_a_picture_as_soon_as_it_is_chosen(signed_in, db, app) -> None:
    await _ada_account(db, app)
    token = {"csrf_token": csrf_from((await signed_in.get("/posts/new", headers=HTML)).text)}
    uploaded = await signed_in.post(
        "/posts/media",
        data=token,
        files={"pictures": ("p.png", _png(), "image/png")},
        headers=HTMX,
    )
    assert uploaded.status_code == 200
    assert 'name="media"' in uploaded.text and "Description for people" in uploaded.text
    media_id = re.search(r'name="media" value="([\w-]+)"', uploaded.text)
    assert media_id
    picture = await signed_in.get(f"/posts/media/{media_id.group(1)}")
    assert picture.headers["content-type"] == "image/jpeg"
    assert picture.content.startswith(b"\xff\xd8")

    refused = await signed_in.post(
        "/posts/media",
        data=token,
        files={"pictures": ("p.png", b"not a picture", "image/png")},
        headers=HTMX,
    )
    assert refused.status_code == 422
    assert "not a picture we can read" in refused.text


async def test_a_scheduled_post_is_listed_by_day_and_can_be_changed(
    signed_in, db, app, sessionmaker, instance
) -> None:
    account_id = await _ada_account(db, app)
    day = (utcnow() + timedelta(days=2)).date()
    created = await _compose(
        signed_in,
        text="Tomorrow",
        target=str(account_id),
        when="later",
        publish_at=f"{day.isoformat()}T09:30",
        tz="Europe/Rome",
    )
    assert created.status_code == 303, created.text
    post = await db.scalar(select(Post))
    assert post is not None and post.publish_at is not None
    rome = datetime.combine(day, time(9, 30), tzinfo=ZoneInfo("Europe/Rome"))
    assert post.publish_at == rome  # kept in UTC
    listing = await signed_in.get("/posts", headers=HTML)
    assert f"{day:%A}, {day:%B} {day.day}, {day.year}" in listing.text
    assert "Tomorrow" in listing.text
    assert await _run(app, sessionmaker) == 0

    edit = await signed_in.get(f"/posts/{post.id}/edit", headers=HTML)
    assert edit.status_code == 200 and "Tomorrow" in edit.text
    assert f'name="post_id" value="{post.id}"' in edit.text


async def test_cancel_retry_and_delete_from_the_page(
    signed_in, db, app, sessionmaker, instance
) -> None:
    account_id = await _ada_account(db, app)
    created = await _compose(signed_in, text="Maybe", target=str(account_id))
    post_url = created.headers["location"]
    page = await signed_in.get(post_url, headers=HTML)
    action = re.search(r'action="(/posts/[\w-]+/deliveries/\d+)/cancel"', page.text)
    assert action
    cancelled = await signed_in.post(
        f"{action.group(1)}/cancel", data={"csrf_token": csrf_from(page.text)}, headers=HTMX
    )
    assert cancelled.status_code == 200 and "Cancelled" in cancelled.text
    assert await _run(app, sessionmaker) == 0
    retried = await signed_in.post(
        f"{action.group(1)}/retry", data={"csrf_token": csrf_from(page.text)}, headers=HTMX
    )
    assert "Queued" in retried.text
    await _run(app, sessionmaker)
    deleted = await signed_in.post(
        f"{post_url}/delete", data={"csrf_token": csrf_from(page.text)}, headers=HTML
    )
    assert deleted.status_code == 303
    await _run(app, sessionmaker)
    assert instance.deleted == ["1000"]


async def test_forms_need_their_token_and_others_posts_are_unknown(
    signed_in, bob, db, app, instance
) -> None:
    account_id = await _ada_account(db, app)
    refused = await signed_in.post(
        "/posts", data={"text": "x", "target": str(account_id), "when": "now"}, headers=HTML
    )
    assert refused.status_code == 403
    created = await _compose(signed_in, text="Mine", target=str(account_id))
    post_url = created.headers["location"]
    theirs = await bob.get(post_url, headers=HTML)
    unknown = await bob.get("/posts/AAAAAAAAAAAAAAAA", headers=HTML)
    assert theirs.status_code == unknown.status_code == 404
    # Not published anywhere yet: the public page knows nothing of it.
    assert (await bob.get(post_url.replace("/posts/", "/p/"), headers=HTML)).status_code == 404


async def test_answers_come_home_to_the_posts_page_and_the_notifications(
    signed_in, db, app, sessionmaker, instance
) -> None:
    account_id = await _ada_account(db, app)
    created = await _compose(signed_in, text="Tea at five?", target=str(account_id))
    post_url = created.headers["location"]
    await _run(app, sessionmaker)
    instance.reply("2001", "1000", "Yes <b>please</b> & thanks")

    page = await signed_in.get(post_url, headers=HTML)
    assert "Look for answers now" in page.text
    looked = await signed_in.post(
        f"{post_url}/answers", data={"csrf_token": csrf_from(page.text)}, headers=HTMX
    )
    assert looked.status_code == 200 and 'data-stream="/posts/' in looked.text
    assert await _run(app, sessionmaker) == 1

    shown = await signed_in.get(post_url, headers=HTML)
    assert "1 reply" in shown.text and "Replied" in shown.text
    assert "Yes please &amp; thanks" in shown.text  # the HTML as text, escaped here
    assert "gargron@mastodon.example" in shown.text
    assert 'href="https://mastodon.example/@ada/2001"' in shown.text
    assert "Answer on Mastodon" in shown.text and "Last looked" in shown.text

    told = await signed_in.get("/me/notifications", headers=HTML)
    assert "Eugen answered your post on Mastodon." in told.text
    (item,) = re.findall(r'href="(/me/notifications/\d+)"', told.text)
    opened = await signed_in.get(item, headers=HTML)
    assert opened.status_code == 303 and opened.headers["location"] == post_url

    # Without JavaScript, the button asks and comes back to the page.
    again = await signed_in.post(
        f"{post_url}/answers", data={"csrf_token": csrf_from(shown.text)}, headers=HTML
    )
    assert again.status_code == 303 and again.headers["location"] == post_url


async def test_the_text_of_a_post_that_went_out_is_changed_from_its_page(
    signed_in, db, app, sessionmaker, instance
) -> None:
    account_id = await _ada_account(db, app)
    created = await _compose(signed_in, text="Tea at five?", target=str(account_id))
    post_url = created.headers["location"]
    await _run(app, sessionmaker)
    page = await signed_in.get(post_url, headers=HTML)
    assert "Change the text" in page.text

    empty = await signed_in.post(
        f"{post_url}/text", data={"csrf_token": csrf_from(page.text), "text": " "}, headers=HTML
    )
    assert empty.status_code == 422
    assert "Write something or add a picture." in empty.text
    assert 'aria-describedby="new-text-error"' in empty.text

    changed = await signed_in.post(
        f"{post_url}/text",
        data={"csrf_token": csrf_from(page.text), "text": "Tea at six?"},
        headers=HTML,
    )
    assert changed.status_code == 303
    shown = await signed_in.get(post_url, headers=HTML)
    assert "Changing" in shown.text and "Tea at six?" in shown.text
    assert await _run(app, sessionmaker) == 1
    assert instance.edits == [{"status": ["Tea at six?"], "spoiler_text": [""]}]
    shown = await signed_in.get(post_url, headers=HTML)
    assert "Changing" not in shown.text and "Sent" in shown.text
