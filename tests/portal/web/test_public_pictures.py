"""A post's pictures at sealed addresses that expire, for the networks that fetch them: what
the connectors are given (``Context.media_url``) opens the picture for anyone, for an hour,
while the post is out or on its way, and nothing else."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from connectors.base import Upload
from portal.config import Settings
from portal.domain.posts import compose, public_pictures
from portal.storage.models import User
from portal.storage.posts import Post, PostMedia
from tests.fixtures.app import make_settings
from tests.fixtures.images import encode
from tests.portal.domain.test_lookup_queries import counted

JPEG = encode(Image.new("RGB", (32, 24), "navy"), "JPEG")


async def _picture(db: AsyncSession, state: str = "published", data: bytes = JPEG) -> PostMedia:
    """A picture of a new post in ``state``."""
    user = (await db.scalars(select(User))).first()
    assert user is not None
    post = Post(id=compose.new_id(), user_id=user.id, text="The engine", state=state)
    db.add(post)
    await db.flush()
    media = PostMedia(
        id=compose.new_id(),
        user_id=user.id,
        post_id=post.id,
        mime_type="image/jpeg",
        width=32,
        height=24,
        size=len(data),
        data=data,
    )
    db.add(media)
    await db.commit()
    return media


async def _address(app: FastAPI, media: PostMedia) -> str:
    """The address a connector is given for the picture, as the delivery hands it over."""
    media_url = app.state.links.context.media_url
    assert media_url is not None
    url: str = await media_url(Upload(media.data, media.mime_type, id=media.id))
    return url


def _path(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "https://portal.test", url
    return parts.path


async def _unavailable(client: httpx.AsyncClient, path: str) -> bytes:
    """What fetching ``path`` answers, which must be "not available"."""
    response = await client.get(path)
    assert response.status_code == 404, path
    assert "This picture is not available." in response.text
    return response.content


async def test_the_address_opens_the_picture_for_anyone(signed_in, app, db):
    media = await _picture(db)
    url = await _address(app, media)
    assert url.startswith("https://portal.test/pictures/")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://portal.test") as anyone:
        response = await anyone.get(_path(url))
    assert response.status_code == 200
    assert response.content == JPEG
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "private, max-age=300"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_address_names_nothing_of_the_picture_or_its_post(signed_in, app, db):
    """The token is sealed: not even the picture's id, which the author's own pages use, can
    be read from it, as text or as bytes."""
    media = await _picture(db)
    assert media.post_id is not None
    token = _path(await _address(app, media)).removeprefix("/pictures/")
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for private in (media.post_id, media.id):
        assert private not in token
        assert private.encode() not in raw
        assert base64.urlsafe_b64decode(private) not in raw
    # Each address is new: two for one picture share nothing that would name it.
    again = _path(await _address(app, media)).removeprefix("/pictures/")
    assert again != token and again[:16] != token[:16]


async def test_finding_the_picture_is_one_query(signed_in, app, db, engine: AsyncEngine):
    media = await _picture(db)
    await _picture(db, data=JPEG[:-3] + b"\x00\xff\xd9")  # as long, other bytes
    secret = app.state.settings.secret_key
    token = _path(await _address(app, media)).removeprefix("/pictures/")
    with counted(engine) as statements:
        found = await public_pictures.picture(db, token, secret)
    assert found.id == media.id and found.data == JPEG
    assert len(statements) == 1, statements


@pytest.mark.parametrize("state", ["published", "scheduled"])
async def test_a_post_out_or_on_its_way_shows_its_picture(signed_in, app, db, state):
    media = await _picture(db, state)
    assert (await signed_in.get(_path(await _address(app, media)))).status_code == 200


async def test_every_address_that_opens_nothing_answers_alike(signed_in, app, db, monkeypatch):
    """Altered, run out, another portal's, of a draft, a deleted post or a deleted picture:
    the same answer, so that none tells whether a picture is there."""
    settings: Settings = app.state.settings
    media = await _picture(db)
    path = _path(await _address(app, media))
    token = path.removeprefix("/pictures/")
    answers = set()
    for at in (0, 5, len(token) // 2, len(token) - 5, len(token) - 1):
        other = "A" if token[at] != "A" else "B"
        answers.add(
            await _unavailable(signed_in, f"/pictures/{token[:at]}{other}{token[at + 1 :]}")
        )
    for altered in (token[:-1], token + "A", token[:-4], token + "AAAA", "not-a-token", "A" * 70):
        answers.add(await _unavailable(signed_in, f"/pictures/{altered}"))
    stranger = public_pictures.token(media.id, "another portal's secret key, 32 characters")
    answers.add(await _unavailable(signed_in, f"/pictures/{stranger}"))
    unknown = public_pictures.token(compose.new_id(), settings.secret_key)
    answers.add(await _unavailable(signed_in, f"/pictures/{unknown}"))
    for state in ("draft", "deleted"):
        hidden = await _picture(db, state)
        answers.add(await _unavailable(signed_in, _path(await _address(app, hidden))))

    # A picture taken out of its post, gone from the database.
    gone = await _picture(db)
    gone_path = _path(await _address(app, gone))
    assert (await signed_in.get(gone_path)).status_code == 200
    await db.delete(gone)
    await db.commit()
    answers.add(await _unavailable(signed_in, gone_path))

    # An hour later the address no longer works.
    assert (await signed_in.get(path)).status_code == 200
    now = public_pictures.time.time()
    monkeypatch.setattr(public_pictures.time, "time", lambda: now + public_pictures.LIFETIME)
    answers.add(await _unavailable(signed_in, path))
    assert len(answers) == 1, answers


async def test_each_address_opens_its_own_picture(signed_in, app, db):
    first = await _picture(db)
    twin = JPEG[:-3] + b"\x00\xff\xd9"  # as long, other bytes
    second = await _picture(db, data=twin)
    for media, data in ((first, JPEG), (second, twin)):
        response = await signed_in.get(_path(await _address(app, media)))
        assert response.status_code == 200 and response.content == data


async def test_only_a_picture_the_portal_keeps_has_an_address(app):
    media_url = app.state.links.context.media_url
    with pytest.raises(ValueError, match="only a picture the portal keeps"):
        await media_url(Upload(JPEG, "image/jpeg"))


def test_a_token_read_back_names_its_picture_until_it_runs_out():
    secret = "the portal's secret key, at least 32 characters"
    token = public_pictures.token("abc_DEF-123", secret, now=1_000_000)
    assert public_pictures.read(token, secret, now=1_000_000) == "abc_DEF-123"
    assert public_pictures.read(token, secret, now=1_000_000 + public_pictures.LIFETIME) is None


async def test_fetching_is_counted_per_client_address(signed_in, app, db):
    path = _path(await _address(app, await _picture(db)))
    statuses = [(await signed_in.get(path)).status_code for _ in range(121)]
    assert statuses[:120] == [200] * 120
    assert statuses[120] == 429


def test_a_portal_without_a_public_https_address_gives_no_addresses():
    from portal.deps import link_services

    context = link_services(make_settings(base_url="http://127.0.0.1:8000")).context
    assert context.media_url is None
