"""Every feed of ../shared/corpus/feeds, served over HTTP with the headers its index lists,
fetched through the real fetcher and read by the parser: well-formed feeds give all their
entries, ill-formed ones what can be recovered with the error kept, nothing crashes, and no
sanitising case leaves a script, a handler or an unsafe address in the HTML."""

from __future__ import annotations

import csv
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import feedparser
import pytest

from connectors._addresses import AddressPolicy
from portal.domain.feeds.fetch import fetch
from portal.domain.feeds.parse import NotAFeed, ParsedFeed, parse
from portal.net import guarded_client
from tests.fixtures.feeds import FeedServer, serving, static

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "feeds"
INDEX = CORPUS / "feedparser" / "INDEX.tsv"


@dataclass(frozen=True)
class Case:
    path: str
    headers: dict[str, str]

    @property
    def group(self) -> str:
        """The folder of the file: ``wellformed-rss``, ``illformed``, ``real``…"""
        return Path(self.path).parent.name


def _cases() -> list[Case]:
    cases = []
    with INDEX.open(newline="", encoding="utf-8") as index:
        for row in csv.DictReader(index, delimiter="\t"):
            headers = {}
            if row["http_headers_simulated"]:
                name, _, value = row["http_headers_simulated"].partition(":")
                headers[name.strip().lower()] = value.strip()
            cases.append(Case(f"feedparser/{row['path']}", headers))
    for folder in ("jsonfeed", "real"):
        for file in sorted((CORPUS / folder).iterdir()):
            if file.suffix in (".xml", ".json"):
                cases.append(Case(f"{folder}/{file.name}", {}))
    return cases


CASES = _cases()
_TYPES = {".json": "application/feed+json", ".xml": "application/xml"}


@pytest.fixture(scope="module")
async def corpus() -> AsyncIterator[FeedServer]:
    async with serving() as server:
        for case in CASES:
            file = CORPUS / case.path
            headers = {"content-type": _TYPES[file.suffix], **case.headers}
            # A Content-Location from the index is the one feedparser's tests give; served,
            # it would say where the body is, which the fetcher passes on as the address.
            headers.pop("content-location", None)
            server.routes["/" + case.path] = static(file.read_bytes(), headers)
        yield server


async def _read(corpus: FeedServer, case: Case) -> tuple[bytes, ParsedFeed | None]:
    async with guarded_client(policy=AddressPolicy(allow_loopback=True)) as http:
        fetched = await fetch(http, corpus.url("/" + case.path))
    base = case.headers.get("content-location") or fetched.url
    try:
        return fetched.body, parse(fetched.body, url=base, content_type=fetched.content_type)
    except NotAFeed:
        return fetched.body, None


def _reference(body: bytes, case: Case, content_type: str) -> feedparser.FeedParserDict:
    headers = {"content-type": content_type, **case.headers}
    return feedparser.parse(body, response_headers=headers, sanitize_html=False)


@pytest.mark.parametrize("case", CASES, ids=[case.path for case in CASES])
async def test_every_feed_of_the_corpus_is_read_through_the_fetcher(
    corpus: FeedServer, case: Case
) -> None:
    body, feed = await _read(corpus, case)
    assert body == (CORPUS / case.path).read_bytes()
    if case.path.endswith(".json"):
        assert feed is not None and feed.kind == "json" and feed.entries
        assert all(entry.key for entry in feed.entries)
        return
    reference = _reference(body, case, _TYPES[".xml"])
    if feed is None:
        # Only a document with nothing of a feed in it is refused as one.
        assert not reference.get("version") and not reference.entries
        return
    assert len(feed.entries) == len(reference.entries)
    if reference.get("bozo") or b"<!ENTITY" in body:
        assert feed.error is not None, "the feed's problem was not recorded"
    elif case.group.startswith("wellformed") or case.group in ("real", "encoding"):
        assert feed.error is None, (feed.error, feed.error_params)
    for entry, raw in zip(feed.entries, reference.entries, strict=True):
        assert entry.key
        if raw.get("link", "").startswith(("http://", "https://")):
            assert entry.link == raw["link"]


_UNSAFE = re.compile(
    r"<\s*(script|iframe|object|embed|form|style|meta|link|base)\b"
    r"|\son\w+\s*="
    r"|\sstyle\s*="
    r"|(href|src|action|cite)\s*=\s*[\"']?\s*(javascript|vbscript|data:text|file):",
    re.IGNORECASE,
)


@pytest.mark.parametrize(
    "case",
    [case for case in CASES if case.group == "wellformed-sanitize"],
    ids=lambda case: case.path.rsplit("/", 1)[1],
)
async def test_no_sanitising_case_keeps_anything_unsafe(corpus: FeedServer, case: Case) -> None:
    _, feed = await _read(corpus, case)
    assert feed is not None
    for entry in feed.entries:
        assert not _UNSAFE.search(entry.html), entry.html
        for link in re.findall(r"<a\b[^>]*>", entry.html):
            assert 'rel="noopener noreferrer nofollow"' in link
        for image in re.findall(r"<img\b[^>]*>", entry.html):
            assert 'loading="lazy"' in image and 'referrerpolicy="no-referrer"' in image


async def test_relative_addresses_are_made_absolute(corpus: FeedServer) -> None:
    case = next(case for case in CASES if case.path.endswith("feedrs_rss_2.0_relurl_1.xml"))
    _, feed = await _read(corpus, case)
    assert feed is not None and feed.entries
    for entry in feed.entries:
        for address in re.findall(r'(?:href|src)="([^"]*)"', entry.html):
            assert address.startswith(("http://", "https://", "mailto:", "data:image/")), address
