"""A fast feed server for the feeds benchmark, in a process of its own (so that it takes no time
from the poller measured): raw asyncio protocol, keep-alive, HTTP/1.1.

``python -m tests.bench.feed_server DIRECTORY HOSTS`` listens on one port of 127.0.0.2 and the
next ``HOSTS - 1`` loopback addresses (each a host of its own for the poller's per-host
limit), prints the port, then answers ``GET /<anything>/<name>`` with the file ``name`` of
``DIRECTORY`` and the ETag ``"v1"``, or ``304 Not Modified`` when asked with that ETag.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ETAG = b'"v1"'


class _Feeds(asyncio.Protocol):
    def __init__(self, files: dict[bytes, bytes]) -> None:
        self.files = files
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            request, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            assert self.transport is not None
            self.transport.write(self._answer(request))

    def _answer(self, request: bytes) -> bytes:
        line, _, headers = request.partition(b"\r\n")
        path = line.split(b" ")[1]
        if b"if-none-match: " + ETAG in headers.lower():
            return b'HTTP/1.1 304 Not Modified\r\netag: "v1"\r\ncontent-length: 0\r\n\r\n'
        body = self.files.get(path.rsplit(b"/", 1)[-1])
        if body is None:
            return b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
        head = b'HTTP/1.1 200 OK\r\netag: "v1"\r\ncontent-length: %d\r\n\r\n' % len(body)
        return head + body


async def main(files: dict[bytes, bytes], hosts: int) -> None:
    loop = asyncio.get_running_loop()
    first = await loop.create_server(lambda: _Feeds(files), "127.0.0.2", 0, backlog=1024)
    port = first.sockets[0].getsockname()[1]
    addresses = [f"127.0.{n // 256}.{n % 256}" for n in range(3, hosts + 2)]
    if addresses:
        await loop.create_server(lambda: _Feeds(files), addresses, port, backlog=1024)
    print(port, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    asyncio.run(main({p.name.encode(): p.read_bytes() for p in folder.iterdir()}, int(sys.argv[2])))
