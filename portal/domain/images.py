"""Uploaded pictures: refused by their header when hostile, decoded away from the event loop.

A picture is decoded in a separate process, never in the web process: decoding and resizing
take the CPU for up to a second, and one upload must not stop every other request meanwhile.
At most ``workers`` pictures are decoded at once and at most ``queue`` more wait for a turn;
the next one is answered "busy" at once rather than piling up in memory.

Before any pixel is decoded, the header alone (``Image.open`` is lazy) must show a shape worth
decoding; see the limits below.
"""

from __future__ import annotations

import asyncio
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from struct import error as struct_error
from typing import TypeVar

from PIL import Image, ImageOps, UnidentifiedImageError

from portal.errors import N_, InvalidInput, RateLimited
from portal.workers import WorkerDied, Workers

T = TypeVar("T")

ACCEPTED_FORMATS = ("GIF", "JPEG", "PNG", "WEBP")

# Limits on the header, checked before decoding. An avatar is shown at most a few hundred
# pixels wide, so none of them refuses a real photo:
# - MAX_EDGE: 8,192 px covers every phone and most cameras (a 50-megapixel phone picture is
#   8,160 × 6,120). Longer edges are how tiny files declare absurd sizes: the 74 KB PNG of
#   1 × 39,000,000 pixels passes any pixel count a real photo needs.
# - MAX_ASPECT: the avatar is the picture's central square; beyond 8:1 that square is less
#   than an eighth of the picture, so a strip that thin is not a portrait of anyone.
# - MAX_DECODED_PIXELS: what must really be decoded, at 4 bytes a pixel 160 MB at most. A JPEG
#   is decoded already scaled down by 2, 4 or 8 (``draft``), so an 8,192 × 8,192 photo costs a
#   sixty-fourth of that; a PNG, GIF or WebP is decoded whole and must stay under it.
MAX_EDGE = 8_192
MAX_ASPECT = 8
MAX_DECODED_PIXELS = 40_000_000
# A worker process is replaced after this many pictures, which returns to the system the
# memory the largest decode left in its heap.
TASKS_PER_WORKER = 50
# How long an upload may wait for a turn before it is answered "busy"; with the queue bounded,
# this only matters when a worker is stuck.
MAX_WAIT_SECONDS = 30.0

TOO_MANY_PIXELS = N_("This picture has too many pixels; use one under 6000 × 6000.")
TOO_LONG = N_("This picture is too large; use one at most %(max)d pixels on each side.")
TOO_THIN = N_(
    "This picture is too long and thin for a profile picture; use one at most %(max)d times "
    "as long as it is wide."
)
UNREADABLE = N_("This file is not a picture we can read. Use a JPEG, PNG, GIF or WebP image.")
DAMAGED = N_("This picture is damaged or cut short; try another file.")
FAILED = N_("This picture could not be processed; try a smaller or simpler one.")
BUSY = N_("Many pictures are being processed right now; try again in a minute.")


class Busy(RateLimited):
    """Every worker is decoding and the queue is full: not the sender's fault, try later."""

    status_code = 503


def _open(data: bytes, field: str, draft: tuple[int, int] | None = None) -> Image.Image:
    """The first frame of a picture, decoded within the limits, in RGB or RGBA.

    Pillow warns of, then refuses, pictures beyond its own limit, while opening them; ours are
    lower, so either only means "too many pixels". The filter is this process's only user of
    warnings: a worker decodes one picture at a time."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as image:
                _check_shape(image.size, field)
                if image.format == "JPEG" and draft is not None:
                    image.draft(None, draft)
                if image.width * image.height > MAX_DECODED_PIXELS:
                    raise InvalidInput(TOO_MANY_PIXELS, field=field)
                image.seek(0)
                image.load()
                mode = "RGBA" if _has_alpha(image) else "RGB"
                # convert() copies even to the same mode: a 40-megapixel picture twice over.
                return image if image.mode == mode else image.convert(mode)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(TOO_MANY_PIXELS, field=field) from None
    except UnidentifiedImageError:
        raise InvalidInput(UNREADABLE, field=field) from None
    except (OSError, ValueError, SyntaxError, EOFError, struct_error):
        raise InvalidInput(DAMAGED, field=field) from None


def _upright(picture: Image.Image, field: str) -> Image.Image:
    try:
        return ImageOps.exif_transpose(picture)
    except (OSError, ValueError, SyntaxError, EOFError, struct_error):
        raise InvalidInput(DAMAGED, field=field) from None


def square_webp(data: bytes, size: int) -> bytes:
    """The picture's central square as a WebP of ``size`` × ``size`` pixels, upright.

    Only the first frame of an animation is read. Re-encoding drops metadata (location in
    EXIF) and anything hidden in the file. Runs in a worker process: see :class:`ImageWorkers`.
    """
    picture = _open(data, "avatar", (size, size))
    square = picture.resize(
        (size, size), Image.Resampling.LANCZOS, box=_central_square(picture.size), reducing_gap=3.0
    )
    # The square keeps the picture's EXIF. The central square of a turned picture is the turned
    # central square, so turning the small result is the same as turning the whole picture
    # first, at a fraction of the cost.
    square = _upright(square, "avatar")
    out = io.BytesIO()
    square.save(out, format="WEBP", quality=85, method=4)
    return out.getvalue()


POST_EDGE = 2_048
"""The longest side of a picture in a post: what the networks show at most, and small."""
POST_BYTES = 950_000
"""The most bytes of a picture in a post: under Bluesky's 1,000,000-byte blob limit, the
smallest of the networks Portal publishes to."""
_QUALITIES = (88, 80, 72, 64, 56)


@dataclass(frozen=True, slots=True)
class Picture:
    data: bytes
    mime_type: str
    width: int
    height: int


def post_picture(data: bytes) -> Picture:
    """A picture for a post: upright, at most :data:`POST_EDGE` pixels on a side and
    :data:`POST_BYTES` bytes, as a JPEG (a PNG where it has transparency and stays small).

    Re-encoding drops metadata (location in EXIF) and anything hidden in the file; only the
    first frame of an animation is kept. Runs in a worker process (:class:`ImageWorkers`)."""
    picture = _upright(_open(data, "media", (POST_EDGE, POST_EDGE)), "media")
    picture.thumbnail((POST_EDGE, POST_EDGE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    if picture.mode == "RGBA":
        out = io.BytesIO()
        picture.save(out, format="PNG", optimize=True)
        if out.tell() <= POST_BYTES:
            return Picture(out.getvalue(), "image/png", picture.width, picture.height)
        flat = Image.new("RGB", picture.size, "white")
        flat.paste(picture, mask=picture.getchannel("A"))
        picture = flat
    while True:
        for quality in _QUALITIES:
            out = io.BytesIO()
            picture.save(out, format="JPEG", quality=quality, optimize=True, progressive=True)
            if out.tell() <= POST_BYTES:
                return Picture(out.getvalue(), "image/jpeg", picture.width, picture.height)
        picture = picture.resize((max(picture.width * 3 // 4, 1), max(picture.height * 3 // 4, 1)))


def _check_shape(size: tuple[int, int], field: str) -> None:
    width, height = size
    if width > MAX_EDGE or height > MAX_EDGE:
        raise InvalidInput(TOO_LONG, field=field, max=MAX_EDGE)
    if width < 1 or height < 1 or max(width, height) > MAX_ASPECT * min(width, height):
        raise InvalidInput(TOO_THIN, field=field, max=MAX_ASPECT)


def _central_square(size: tuple[int, int]) -> tuple[float, float, float, float]:
    width, height = size
    edge = min(width, height)
    left, top = (width - edge) / 2, (height - edge) / 2
    return (left, top, left + edge, top + edge)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info


class ImageWorkers:
    """A few processes that decode pictures (:class:`portal.workers.Workers`), shared by every
    request of one application.

    The processes start with the first picture and stop with :meth:`close` (the application's
    lifespan). ``workers`` pictures are decoded at once, ``queue`` more wait for a turn, and
    any further one is refused with :class:`Busy`.
    """

    def __init__(self, *, workers: int, queue: int) -> None:
        self.workers = workers
        self.queue = queue
        self._processes = Workers(workers=workers, tasks_per_worker=TASKS_PER_WORKER)
        self._slots: asyncio.Semaphore | None = None
        self._admitted = 0  # decoding or waiting for a turn

    async def square_webp(self, data: bytes, size: int) -> bytes:
        """:func:`square_webp` in a worker process; :class:`Busy` when too many wait."""
        return await self._admit(square_webp, data, size, field="avatar")

    async def post_picture(self, data: bytes) -> Picture:
        """:func:`post_picture` in a worker process; :class:`Busy` when too many wait."""
        return await self._admit(post_picture, data, field="media")

    async def _admit(self, task: Callable[..., T], *args: object, field: str) -> T:
        if self._admitted >= self.workers + self.queue:
            raise Busy(BUSY, retry_after=30)
        self._admitted += 1
        try:
            slots = self._slots = self._slots or asyncio.Semaphore(self.workers)
            try:
                await asyncio.wait_for(slots.acquire(), MAX_WAIT_SECONDS)
            except TimeoutError:
                raise Busy(BUSY, retry_after=30) from None
            return await self._run(slots, task, args, field)
        finally:
            self._admitted -= 1

    async def _run(
        self, slots: asyncio.Semaphore, task: Callable[..., T], args: tuple[object, ...], field: str
    ) -> T:
        loop = asyncio.get_running_loop()
        try:
            future = await self._processes.start(task, *args)
        except BaseException:
            slots.release()
            raise
        # The turn is given back when the process is done, even if the request is gone by then:
        # a cancelled request does not stop a decode, and must not let another one start.
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(slots.release))
        try:
            return await self._processes.wait(future)
        except WorkerDied:
            # The process died (out of memory, killed): start afresh for the next picture.
            raise InvalidInput(FAILED, field=field) from None

    def close(self) -> None:
        """Stop the worker processes; a picture still being decoded is abandoned."""
        self._processes.close()
