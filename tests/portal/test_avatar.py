"""Uploading a picture: hostile files are refused by their header, and decoding one never
stops the portal from answering everyone else."""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import os
from functools import cache

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from portal.config import Settings
from portal.db import make_engine, make_sessionmaker, session_scope
from portal.deps import SESSION_COOKIE
from portal.domain import account
from portal.domain.images import Busy, ImageWorkers
from portal.errors import InvalidInput
from portal.storage.models import User
from tests.fixtures import images
from tests.fixtures.app import HTML, get_csrf, make_settings
from tests.portal.domain import people

SIZE = 64


@pytest.fixture
def settings() -> Settings:
    return make_settings(avatar_size=SIZE, rate_limits_enabled=False)


@pytest.fixture
async def owner(db: AsyncSession) -> User:
    return await people.person(db, "Ada Lovelace")


@pytest.fixture
async def bearer(db: AsyncSession, owner: User) -> dict[str, str]:
    token = await account.create_token(db, owner, name="tests")
    return {"authorization": f"Bearer {token.secret}"}


async def _upload(
    client: httpx.AsyncClient, bearer: dict[str, str], data: bytes, name: str = "me.png"
) -> httpx.Response:
    return await client.put("/api/v1/me/avatar", files={"file": (name, data)}, headers=bearer)


async def _served(client: httpx.AsyncClient, bearer: dict[str, str]) -> Image.Image:
    me = (await client.get("/api/v1/me", headers=bearer)).json()
    served = await client.get(me["avatar_url"])
    assert served.status_code == 200
    image = Image.open(io.BytesIO(served.content))
    assert image.size == (SIZE, SIZE)
    return image.convert("RGB")


@cache
def _slow_png() -> bytes:
    """A legal picture that takes a while to decode: 36 million pixels in about 100 KB (0.15 s
    on a fast machine, as a process that has decoded before)."""
    return images.png(6000, 6000)


DECODING = 0.05
"""Long enough for a picture to reach a decoding process, well short of decoding it: the
processes are killed in the middle. (Killed before it arrived, the picture is lost all the
same: the pool is broken.)"""


HOSTILE = [
    ("1x39000000-PNG", images.needle_png, "at most 8192 pixels on each side"),
    ("100000x1-PNG", lambda: images.png(100_000, 1, "1"), "at most 8192 pixels on each side"),
    (
        "JPEG-declaring-9000x9000",
        lambda: images.jpeg_declaring(9000, 9000),
        "at most 8192 pixels on each side",
    ),
    ("JPEG-declaring-65000x65000", lambda: images.jpeg_declaring(65000, 65000), "pixels"),
    ("PNG-declaring-100000x100000", lambda: images.png_declaring(100_000, 100_000), "pixels"),
    ("8000x8000-PNG-bomb", lambda: images.png(8000, 8000, "1"), "too many pixels"),
    ("4000x400-strip", lambda: images.png(4000, 400), "long and thin"),
    ("truncated-PNG", lambda: images.png(256, 256)[:-200], "damaged or cut short"),
    ("SVG", lambda: b'<svg xmlns="http://www.w3.org/2000/svg"/>', "not a picture we can read"),
    ("PDF", lambda: b"%PDF-1.4\n" + b"x" * 1000, "not a picture we can read"),
]


@pytest.mark.parametrize(
    ("make", "words"), [case[1:] for case in HOSTILE], ids=[c[0] for c in HOSTILE]
)
async def test_a_hostile_picture_is_refused_with_a_reason(client, bearer, make, words):
    response = await _upload(client, bearer, make())
    assert response.status_code == 422, response.text
    problem = response.json()
    assert words in problem["detail"] and problem["field"] == "avatar"
    me = (await client.get("/api/v1/me", headers=bearer)).json()
    assert me["avatar_url"] is None


async def test_the_web_form_shows_why_a_picture_is_refused(client, db, owner):
    client.cookies.set(SESSION_COOKIE, await account.start_session(db, owner, days=1))
    csrf = await get_csrf(client, "/me")
    response = await client.post(
        "/me/avatar",
        data={"csrf_token": csrf},
        files={"avatar": ("needle.png", images.needle_png(), "image/png")},
        headers=HTML,
    )
    assert response.status_code == 422
    assert "at most 8192 pixels on each side" in response.text


async def test_a_large_phone_photo_is_accepted(client, bearer):
    """A 50-megapixel JPEG is decoded at an eighth of its size, so it is welcome."""
    picture = Image.new("RGB", (8160, 6120), (30, 160, 40))
    photo = images.encode(picture, "JPEG", quality=60)
    response = await _upload(client, bearer, photo, "photo.jpg")
    assert response.status_code == 200, response.text
    red, green, blue = (await _served(client, bearer)).getpixel((SIZE // 2, SIZE // 2))
    assert green > 120 and red < 70 and blue < 80


async def test_an_animation_of_1000_frames_becomes_its_first_frame(client, bearer):
    colours = [(220, 20, 20), (20, 20, 220)]
    frames = [Image.new("RGB", (32, 32), colours[i % 2]) for i in range(1000)]
    gif = images.encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=20)
    response = await _upload(client, bearer, gif, "dance.gif")
    assert response.status_code == 200, response.text
    red, _, blue = (await _served(client, bearer)).getpixel((SIZE // 2, SIZE // 2))
    assert red > 150 and blue < 80


async def test_a_photo_taken_sideways_is_shown_upright(client, bearer):
    """A camera stores a portrait photo as a landscape one with an EXIF orientation."""
    stored = Image.new("RGB", (200, 100), (220, 20, 20))  # left half red, right half blue
    stored.paste((20, 20, 220), (100, 0, 200, 100))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter clockwise: red on top, blue below
    exif[0x010F] = "Camera maker"
    photo = images.encode(stored, "JPEG", exif=exif, quality=95)
    response = await _upload(client, bearer, photo, "portrait.jpg")
    assert response.status_code == 200, response.text
    me = (await client.get("/api/v1/me", headers=bearer)).json()
    served = Image.open(io.BytesIO((await client.get(me["avatar_url"])).content))
    assert "exif" not in served.info and not served.getexif()  # nothing of the camera's kept
    shown = await _served(client, bearer)
    top, bottom = shown.getpixel((SIZE // 2, 4)), shown.getpixel((SIZE // 2, SIZE - 5))
    assert top[0] > 150 and top[2] < 80, top
    assert bottom[2] > 150 and bottom[0] < 80, bottom


async def test_the_portal_keeps_answering_while_a_picture_decodes(client, bearer):
    upload = asyncio.create_task(_upload(client, bearer, _slow_png()))
    answered = 0
    while not upload.done():
        health = await client.get("/healthz")
        assert health.status_code == 200
        answered += 1 if not upload.done() else 0
        await asyncio.sleep(0.005)
    assert (await upload).status_code == 200
    # Decoding 36 million pixels takes a good fraction of a second; a health check, a few
    # milliseconds. Decoded on the event loop, the picture would let none through meanwhile.
    assert answered >= 10, answered


async def test_uploads_beyond_the_queue_wait_their_turn_or_are_told_to_come_back():
    workers = ImageWorkers(workers=1, queue=1)
    try:
        answers = await asyncio.gather(
            *(workers.square_webp(_slow_png(), SIZE) for _ in range(4)), return_exceptions=True
        )
        # One decodes, one waits for its turn, and the others are turned away at once.
        assert [type(answer) for answer in answers] == [bytes, bytes, Busy, Busy], answers
        # Once the queue has drained, pictures are welcome again.
        assert isinstance(await workers.square_webp(images.png(64, 64), SIZE), bytes)
    finally:
        workers.close()


@pytest.mark.parametrize("settings", [make_settings(avatar_workers=1, avatar_queue=0)])
async def test_an_upload_while_the_portal_is_busy_is_answered_503(app: FastAPI, client, bearer):
    decoding = asyncio.create_task(app.state.images.square_webp(_slow_png(), SIZE))
    await asyncio.sleep(0)  # the decode takes the only turn
    response = await _upload(client, bearer, images.png(64, 64))
    assert response.status_code == 503, response.text
    assert "try again in a minute" in response.json()["detail"]
    assert int(response.headers["retry-after"]) > 0
    await decoding
    assert (await _upload(client, bearer, images.png(64, 64))).status_code == 200


async def test_the_decoding_processes_stop_with_the_portal(app: FastAPI, client, bearer):
    async with app.router.lifespan_context(app):
        assert (await _upload(client, bearer, images.png(64, 64))).status_code == 200
        assert multiprocessing.active_children()
    assert not multiprocessing.active_children()


async def test_decoding_yields_the_processor_to_the_web_process(app: FastAPI, client, bearer):
    async with app.router.lifespan_context(app):
        assert (await _upload(client, bearer, images.png(64, 64))).status_code == 200
        workers = [child.pid for child in multiprocessing.active_children() if child.pid]
        web = os.getpriority(os.PRIO_PROCESS, 0)
        assert workers
        assert all(os.getpriority(os.PRIO_PROCESS, pid) >= web + 10 for pid in workers)


async def test_an_upload_survives_other_writes_while_its_picture_decodes(live_server):
    """In a real server on its own database, others keep writing while a picture decodes:
    here the first use of each of Grace's tokens, which records when it was used."""
    engine = make_engine(live_server.database_url)
    try:
        # As the portal writes: from the first statement (the server writes meanwhile).
        async with session_scope(make_sessionmaker(engine), writing=True) as db:
            ada, grace = await people.person(db, "Ada"), await people.person(db, "Grace")
            mine = (await account.create_token(db, ada, name="t")).secret
            hers = [(await account.create_token(db, grace, name="t")).secret for _ in range(50)]
            await db.commit()
    finally:
        await engine.dispose()
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as http:
        me = {"authorization": f"Bearer {mine}"}
        assert (await http.get("/api/v1/me", headers=me)).status_code == 200
        upload = asyncio.create_task(
            http.put("/api/v1/me/avatar", files={"file": ("a.png", _slow_png())}, headers=me)
        )
        try:
            writes = 0
            while not upload.done() and writes < len(hers):
                her = {"authorization": f"Bearer {hers[writes]}"}
                response = await http.get("/api/v1/me", headers=her)
                assert response.status_code == 200, response.text
                writes += 1
                await asyncio.sleep(0.02)
        finally:
            response = await upload
    assert response.status_code == 200, response.text
    assert writes >= 2, writes


async def test_a_decoding_process_that_dies_costs_one_picture_not_the_service():
    workers = ImageWorkers(workers=1, queue=0)
    try:
        assert isinstance(await workers.square_webp(images.png(64, 64), SIZE), bytes)
        decoding = asyncio.create_task(workers.square_webp(_slow_png(), SIZE))
        await asyncio.sleep(DECODING)
        for process in multiprocessing.active_children():
            process.kill()  # as the kernel's out-of-memory killer would
        with pytest.raises(InvalidInput, match="could not be processed"):
            await decoding
        assert isinstance(await workers.square_webp(images.png(64, 64), SIZE), bytes)
    finally:
        workers.close()


async def test_a_picture_waiting_its_turn_outlives_the_processes_that_died_before_it():
    """Two pictures decode and a third waits for a turn when the processes die: the two are
    lost, and the third is decoded by the processes started afresh for it."""
    workers = ImageWorkers(workers=2, queue=1)
    try:
        small = images.png(64, 64)
        await asyncio.gather(*(workers.square_webp(small, SIZE) for _ in range(2)))
        answers = asyncio.gather(
            *(workers.square_webp(_slow_png(), SIZE) for _ in range(3)), return_exceptions=True
        )
        await asyncio.sleep(DECODING)
        for process in multiprocessing.active_children():
            process.kill()
        first, second, third = await answers
        assert isinstance(first, InvalidInput) and isinstance(second, InvalidInput), answers
        assert isinstance(third, bytes), third
        assert isinstance(await workers.square_webp(small, SIZE), bytes)
    finally:
        workers.close()
