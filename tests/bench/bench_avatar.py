"""Does decoding uploaded pictures slow everyone else down? (``make bench``)

A real ``portal serve`` process on its own SQLite database. The baseline is the latency of
``GET /healthz`` while the portal is idle; the figure is the same latency while several
clients upload, without pause, the worst pictures the portal accepts (a 40-megapixel PNG, a
50-megapixel JPEG, a 1,000-frame GIF) and hostile ones it must refuse (1 × 39,000,000 pixels,
a PNG bomb, a JPEG claiming 65,000 × 65,000). Decoding runs away from the event loop, so the
ratio should stay under 2. A second pair of figures compares the same latency with a control
burst of as many uploads of 16 × 16 pictures: the uploads themselves load the portal (and the
machine), and this ratio isolates what decoding adds. Results go to
``bench/results/latest.json``.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from PIL import Image

from portal.db import make_engine, make_sessionmaker, session_scope
from portal.domain import account
from tests.bench.results import Figure, record, table
from tests.fixtures import images
from tests.fixtures.live import LiveServer, start_server, stop_server
from tests.portal.domain import people

UPLOADERS = 6
BURST_SECONDS = 20.0
IDLE_PROBES = 300
PROBE_PAUSE = 0.01
MEMORY_EVERY = 0.25  # seconds between readings of the decoding processes' peak memory
TARGET = 2.0


def _animation() -> bytes:
    frames = [Image.new("RGB", (64, 64), ((i * 37) % 256, 80, 160)) for i in range(1000)]
    return images.encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


def pictures() -> dict[str, bytes]:
    """Worst-case legal pictures, then hostile ones, by name."""
    photo = Image.linear_gradient("L").resize((8160, 6120)).convert("RGB")
    return {
        "legal 6324x6324 PNG (40 Mpx)": images.encode(
            Image.new("RGB", (6324, 6324), (9, 99, 199)), "PNG"
        ),
        "legal 8160x6120 JPEG (50 Mpx)": images.encode(photo, "JPEG", quality=70),
        "legal GIF of 1000 frames": _animation(),
        "hostile 1x39000000 PNG": images.needle_png(),
        "hostile 8000x8000 PNG bomb": images.png(8000, 8000, "1"),
        "hostile JPEG claiming 65000x65000": images.jpeg_declaring(65000, 65000),
    }


def tiny_pictures() -> dict[str, bytes]:
    """The control: the same uploads, of pictures that cost nothing to decode."""
    return {"tiny 16x16 PNG": images.png(16, 16)}


def _burst(
    url: str, tokens: list[str], seconds: float, *, tiny: bool = False
) -> dict[str, dict[int, int]]:
    """Upload pictures from one thread per token for ``seconds``; statuses by picture."""
    files = tiny_pictures() if tiny else pictures()
    statuses: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def upload(token: str, offset: int) -> None:
        names = list(files)
        with httpx.Client(base_url=url, timeout=120) as http:
            turn = offset
            while time.monotonic() < deadline:
                name = names[turn % len(names)]
                turn += 1
                try:
                    status = http.put(
                        "/api/v1/me/avatar",
                        files={"file": ("picture", files[name])},
                        headers={"authorization": f"Bearer {token}"},
                    ).status_code
                except httpx.TransportError:
                    status = 0  # no answer at all
                with lock:
                    statuses[name][status] += 1

    threads = [threading.Thread(target=upload, args=(token, i)) for i, token in enumerate(tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {name: dict(counts) for name, counts in statuses.items()}


class _Peaks:
    """The most memory any process under ``pid`` held, read now and then while they live: the
    decoding processes are replaced every few pictures, so those alive at the end of a burst
    know nothing of the largest pictures."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._next = 0.0

    def sample(self) -> None:
        if time.monotonic() >= self._next:
            self._next = time.monotonic() + MEMORY_EVERY
            self.peak = max([self.peak, *(_peak_memory_mb(pid) for pid in _descendants(self.pid))])


def _probe(
    http: httpx.Client,
    *,
    count: int | None = None,
    until: float = 0.0,
    peaks: _Peaks | None = None,
) -> list[float]:
    """Sequential ``GET /healthz`` latencies, in milliseconds; between two, ``peaks`` sampled."""
    latencies: list[float] = []
    while (count is not None and len(latencies) < count) or time.monotonic() < until:
        start = time.perf_counter()
        response = http.get("/healthz")
        latencies.append((time.perf_counter() - start) * 1e3)
        assert response.status_code == 200, response.status_code
        if peaks is not None:
            peaks.sample()
        time.sleep(PROBE_PAUSE)
    return latencies


def _p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98]


def _peak_memory_mb(pid: int) -> float:
    """The most memory ``pid`` ever held (VmHWM), in MB; 0 when it cannot be read."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, and theirs: the decoding processes are forked by a
    server process of their own."""
    try:
        children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return [pid for child in children for pid in (child, *_descendants(child))]


async def _tokens(database_url: str, count: int) -> list[str]:
    engine = make_engine(database_url)
    try:
        # Begun as a writer: the server, running on the same file, writes meanwhile.
        async with session_scope(make_sessionmaker(engine), writing=True) as db:
            secrets = []
            for i in range(count):
                user = await people.person(db, f"Uploader {i}")
                secrets.append((await account.create_token(db, user, name="bench")).secret)
        return secrets
    finally:
        await engine.dispose()


def run(server: LiveServer) -> list[Figure]:
    tokens = asyncio.run(_tokens(server.database_url, UPLOADERS))
    peaks = _Peaks(server.process.pid)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for token in tokens:  # a token's first use is recorded; not part of the burst
            http.get("/api/v1/me", headers={"authorization": f"Bearer {token}"})
        _probe(http, count=30)  # warm up
        idle = _probe(http, count=IDLE_PROBES // 2)
        spawn = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as uploaders:
            # First the control: as many uploads, of pictures that cost nothing to decode. What
            # the worst pictures add to it is what decoding costs everyone else.
            burst = uploaders.submit(_burst, server.url, tokens, BURST_SECONDS, tiny=True)
            time.sleep(3)
            control = _probe(http, until=time.monotonic() + BURST_SECONDS - 4, peaks=peaks)
            burst.result()
            burst = uploaders.submit(_burst, server.url, tokens, BURST_SECONDS)
            # The uploading process first makes its pictures; probe once they are on the way.
            time.sleep(3)
            during = _probe(http, until=time.monotonic() + BURST_SECONDS - 4, peaks=peaks)
            statuses = burst.result()
        # Idle again after the burst, so that the baseline spans the same stretch of time as
        # the figure (on a shared machine, the load of other programs drifts).
        idle += _probe(http, count=IDLE_PROBES // 2, peaks=peaks)
    print(
        f"{len(idle)} probes idle, {len(control)} during the control burst,"
        f" {len(during)} during {UPLOADERS} uploaders' burst"
    )
    for name, counts in statuses.items():
        answers = ", ".join(f"{n} × {code or 'no answer'}" for code, n in sorted(counts.items()))
        print(f"  {name}: {answers}")
    handled = sum(counts.get(200, 0) + counts.get(422, 0) for counts in statuses.values())
    refused = sum(counts.get(503, 0) for counts in statuses.values())
    return [
        Figure(
            "avatar burst: /healthz p50",
            statistics.median(during),
            "ms",
            statistics.median(idle),
            TARGET,
        ),
        Figure("avatar burst: /healthz p99", _p99(during), "ms", _p99(idle), TARGET),
        Figure(
            "avatar burst: /healthz p50 vs the same burst of tiny pictures",
            statistics.median(during),
            "ms",
            statistics.median(control),
            TARGET,
        ),
        Figure(
            "avatar burst: /healthz p99 vs the same burst of tiny pictures",
            _p99(during),
            "ms",
            _p99(control),
            TARGET,
        ),
        Figure("avatar burst: uploads decoded or refused", handled / BURST_SECONDS, "per s"),
        Figure("avatar burst: uploads turned away busy (503)", refused / BURST_SECONDS, "per s"),
        Figure("avatar burst: web process peak memory", _peak_memory_mb(server.process.pid), "MB"),
        Figure("avatar burst: decoding processes peak memory", peaks.peak, "MB"),
    ]


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-avatar-"))
    try:
        server = start_server(
            f"sqlite+aiosqlite:///{workdir}/bench.db",
            workdir,
            PORTAL_RATE_LIMITS_ENABLED="false",
        )
    except (OSError, RuntimeError) as exc:
        print(f"cannot start the portal: {exc}", file=sys.stderr)
        return 1
    try:
        figures = run(server)
    finally:
        stop_server(server)
    record(figures, "avatar burst:")
    print(table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
