"""Bluesky: handles and DIDs by the atproto specs and their interop vectors, resolution and
app-password sign-in against a real PLC directory and PDS, API JSON mapped on golden files."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

import connectors
from connectors import atproto
from connectors._http import retry_after
from connectors.atproto import (
    DidDocument,
    Resolver,
    is_valid_did,
    is_valid_handle,
    parse_did_document,
)
from connectors.base import (
    AuthRevoked,
    Context,
    Credentials,
    InvalidHandle,
    PermanentError,
    RateLimited,
    Retriable,
)
from connectors.bluesky import (
    Bluesky,
    actor_from_profile,
    actor_from_profile_record,
    post_from_feed_view,
)
from connectors.bluesky._connector import ASK_FOR_APP_CREDENTIAL, REFUSED, REVOKED, TWO_FACTOR
from tests.fixtures.atproto import AtprotoAccount, AtprotoNetwork

DATA = Path(__file__).resolve().parents[1] / "testdata" / "bluesky"
PLC_DID = "did:plc:z72i7hdynmk6r22z27h6tvur"


def _vectors(name: str) -> list[str]:
    """One interop test vector a line; ``#`` comments and blank lines skipped, spaces kept."""
    lines = (DATA / "syntax" / name).read_text(encoding="utf-8").split("\n")
    return [line for line in lines if line and not line.startswith("#")]


def _golden(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


# -- syntax: the interop vectors --------------------------------------------------------------


@pytest.mark.parametrize("handle", _vectors("handle_syntax_valid.txt"))
def test_valid_handle_vectors_pass_the_syntax(handle: str) -> None:
    assert is_valid_handle(handle)


@pytest.mark.parametrize("handle", _vectors("handle_syntax_invalid.txt"))
def test_invalid_handle_vectors_fail_the_syntax(handle: str) -> None:
    assert not is_valid_handle(handle)


@pytest.mark.parametrize("did", _vectors("did_syntax_valid.txt"))
def test_valid_did_vectors_pass_the_syntax(did: str) -> None:
    assert is_valid_did(did)


@pytest.mark.parametrize("did", _vectors("did_syntax_invalid.txt"))
def test_invalid_did_vectors_fail_the_syntax(did: str) -> None:
    assert not is_valid_did(did)


@pytest.mark.parametrize("handle", _vectors("handle_syntax_valid.txt"))
def test_valid_handles_are_kept_in_lowercase_unless_their_domain_is_reserved(handle: str) -> None:
    if handle.rsplit(".", 1)[1].lower() in atproto.DISALLOWED_TLDS:
        with pytest.raises(InvalidHandle, match="cannot be used on the network"):
            Bluesky.normalize_handle(handle)
    else:
        assert Bluesky.normalize_handle(handle) == handle.lower()
        assert Bluesky.normalize_handle(f"@{handle.upper()}") == handle.lower()


@pytest.mark.parametrize("handle", _vectors("handle_syntax_invalid.txt"))
def test_invalid_handles_are_refused(handle: str) -> None:
    if handle != handle.strip() and is_valid_handle(handle.strip()):
        # Spaces around a typed handle are forgiven; inside one they are not.
        assert Bluesky.normalize_handle(handle) == handle.strip()
        return
    with pytest.raises(InvalidHandle):
        Bluesky.normalize_handle(handle)


@pytest.mark.parametrize("did", _vectors("did_syntax_valid.txt"))
def test_only_did_plc_and_did_web_are_accounts(did: str) -> None:
    if did.startswith(("did:plc:", "did:web:")):
        assert Bluesky.normalize_handle(did) == did
    else:
        with pytest.raises(InvalidHandle):
            Bluesky.normalize_handle(did)


@pytest.mark.parametrize("did", _vectors("did_syntax_invalid.txt"))
def test_invalid_dids_are_never_accepted_as_dids(did: str) -> None:
    try:
        result = Bluesky.normalize_handle(did)
    except InvalidHandle:
        return
    # "did.method.val" is no DID, but it is a valid handle.
    assert not result.startswith("did:")
    assert is_valid_handle(result)


# -- normalising what people type -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("alice.bsky.social", "alice.bsky.social"),
        ("  @Alice.Bsky.Social ", "alice.bsky.social"),
        ("\u202a@nelind.dk\u202c", "nelind.dk"),
        ("https://bsky.app/profile/Alice.bsky.social", "alice.bsky.social"),
        ("bsky.app/profile/alice.bsky.social/post/3k2yihcrp6f2c", "alice.bsky.social"),
        ("https://www.bsky.app/profile/alice.bsky.social/", "alice.bsky.social"),
        (f"https://bsky.app/profile/{PLC_DID}", PLC_DID),
        (f"https://bsky.app/profile/{PLC_DID.replace(':', '%3A')}", PLC_DID),
        (f"at://{PLC_DID}/app.bsky.feed.post/3k2yihcrp6f2c", PLC_DID),
        ("at://Alice.bsky.social", "alice.bsky.social"),
        (PLC_DID.upper(), PLC_DID),
        ("did:web:Example.COM", "did:web:example.com"),
        ("did:web:localhost%3a2583", "did:web:localhost%3A2583"),
        ("xn--bcher-kva.example.org", "xn--bcher-kva.example.org"),
        ("alice.test", "alice.test"),
    ],
)
def test_handles_are_normalised(raw: str, expected: str) -> None:
    assert Bluesky.normalize_handle(raw) == expected
    assert Bluesky.normalize_handle(expected) == expected


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "Enter a handle"),
        ("@", "Enter a handle"),
        ("alice", "domain name with a dot"),
        ("alice..bsky.social", "empty parts"),
        ("-alice.bsky.social", "hyphen"),
        ("alice.123", "cannot start with a digit"),
        ("127.0.0.1", "cannot start with a digit"),
        ("ali_ce.bsky.social", "only letters, digits, hyphens and dots"),
        ("ali ce.bsky.social", "only letters, digits, hyphens and dots"),
        ("a" * 64 + ".bsky.social", "at most 63 characters"),
        ("bücher.example.org", "xn--"),
        ("laptop.local", "under .local cannot be used"),
        ("hidden.onion", "under .onion cannot be used"),
        ("handle.invalid", "under .invalid cannot be used"),
        ("https://evil.example/profile/alice.bsky.social", "not an address on bsky.app"),
        ("https://bsky.app/search?q=alice", "not a profile"),
        ("https://bsky.app/profile/", "not a profile"),
        ("ftp://bsky.app/profile/alice.bsky.social", "https://"),
        ("did:key:zQ3shZc2QzApp2oymGvQbzP8eKheVshBHbU4ZYjeXqwSKEn6N", "did:key is not"),
        ("did:plc:short", "24 characters"),
        ("did:plc:z72i7hdynmk6r22z27h6tvu1", "24 characters"),
        ("did:web:example.com:user:alice", "without a path"),
        ("did:web:example.com%3A8443", "only for localhost"),
        ("did:web:printer.local", "cannot be resolved"),
        ("did:plc:", "not a valid DID"),
        ("x" * 400, "too long"),
    ],
)
def test_invalid_input_says_why(raw: str, says: str) -> None:
    with pytest.raises(InvalidHandle) as raised:
        Bluesky.normalize_handle(raw)
    assert says in raised.value.message


def test_a_handle_that_is_not_text_is_refused() -> None:
    with pytest.raises(InvalidHandle, match="as text"):
        Bluesky.normalize_handle(None)  # type: ignore[arg-type]


@given(st.text(max_size=120))
def test_any_text_is_a_handle_a_did_or_a_clear_refusal(raw: str) -> None:
    try:
        normalized = Bluesky.normalize_handle(raw)
    except InvalidHandle as error:
        message = error.message
        assert message
        return
    assert is_valid_did(normalized) or is_valid_handle(normalized)
    assert Bluesky.normalize_handle(normalized) == normalized


def test_links_and_display() -> None:
    assert Bluesky.profile_url("alice.bsky.social") == "https://bsky.app/profile/alice.bsky.social"
    assert Bluesky.deep_link("alice.bsky.social") == "https://bsky.app/profile/alice.bsky.social"
    assert Bluesky.profile_url(PLC_DID) == f"https://bsky.app/profile/{PLC_DID}"
    local = "did:web:localhost%3A2583"
    assert Bluesky.profile_url(local) == f"https://bsky.app/profile/{local}"
    assert Bluesky.display_handle("alice.bsky.social") == "@alice.bsky.social"
    assert Bluesky.display_handle(PLC_DID) == PLC_DID


def test_the_connector_is_registered_with_what_it_can_do() -> None:
    assert connectors.get("bluesky") is Bluesky
    assert (Bluesky.LABEL, Bluesky.AUTH, Bluesky.CAN_VERIFY) == ("Bluesky", "atproto", True)
    assert Bluesky.MAX_TEXT_LENGTH == 300
    # 300 graphemes, not 300 code points: a family emoji counts once.
    assert Bluesky.count_text("👨‍👩‍👧‍👦" * 300) == 300


# -- DID documents ----------------------------------------------------------------------------


def test_a_did_document_names_the_handle_and_the_pds() -> None:
    repo = _golden("describeRepo.json")
    assert parse_did_document(repo["didDoc"], repo["did"]) == DidDocument(
        did="did:plc:kvwvcn5iqfooopmyzvb4qzba",
        handle="test.marshal.dev",
        pds="https://shimeji.us-east.host.bsky.network",
    )


def _document(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(_golden("describeRepo.json")["didDoc"])
    document.update(changes)
    return document


@pytest.mark.parametrize(
    ("aliases", "handle"),
    [
        (["at://Test.Marshal.DEV"], "test.marshal.dev"),
        (["https://example.com/me", "at://not a handle", "at://second.example"], "second.example"),
        (["at://first.example", "at://second.example"], "first.example"),
        ([], None),
        ("at://not-a-list.example", None),
    ],
)
def test_the_first_valid_handle_is_the_one(aliases: Any, handle: str | None) -> None:
    did = "did:plc:kvwvcn5iqfooopmyzvb4qzba"
    assert parse_did_document(_document(alsoKnownAs=aliases), did).handle == handle


@pytest.mark.parametrize(
    ("endpoint", "pds"),
    [
        ("https://pds.example.com", "https://pds.example.com"),
        ("https://PDS.example.com:8443/", "https://pds.example.com:8443"),
        ("http://localhost:2583", "http://localhost:2583"),
        ("http://pds.example.com", None),
        ("https://pds.example.com/prefix", None),
        ("https://user:pw@pds.example.com", None),
        ("https://pds.example.com?x=1", None),
        ("ftp://pds.example.com", None),
        ("https://pds.example.com:99999", None),
        (["https://pds.example.com"], None),
    ],
)
def test_the_pds_must_be_a_plain_server_address(endpoint: Any, pds: str | None) -> None:
    did = "did:plc:kvwvcn5iqfooopmyzvb4qzba"
    service = [
        {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": endpoint}
    ]
    assert parse_did_document(_document(service=service), did).pds == pds


def test_a_document_about_another_did_is_refused() -> None:
    with pytest.raises(PermanentError, match="not about"):
        parse_did_document(_document(), PLC_DID)


def test_retry_after_reads_bluesky_and_standard_headers() -> None:
    now = 1_700_000_000.0
    assert retry_after(httpx.Headers({"ratelimit-reset": str(int(now) + 42)}), now) == 42
    assert retry_after(httpx.Headers({"ratelimit-reset": "7"}), now) == 7
    assert retry_after(httpx.Headers({"retry-after": "30"}), now) == 30
    assert retry_after(httpx.Headers({}), now) is None
    # A Retry-After that cannot be read leaves the reset time to say.
    for unreadable in (b"\xb2", b"99999999999 Jan 2026 00:00 GMT"):
        headers = httpx.Headers([(b"retry-after", unreadable), (b"ratelimit-reset", b"7")])
        assert retry_after(headers, now) == 7


# -- API JSON → Actor and Post (golden files) -------------------------------------------------


def test_profiles_become_actors() -> None:
    follows = _golden("getFollows.json")["follows"]
    actors = [actor_from_profile(profile) for profile in follows]
    assert [actor.id for actor in actors] == [profile["did"] for profile in follows]
    why = actors[0]
    assert why.network == "bluesky"
    assert why.handle == "why.bsky.team"
    assert why.display_name == "Why"
    assert why.url == "https://bsky.app/profile/why.bsky.team"
    assert why.avatar_url is not None
    assert why.avatar_url.startswith("https://cdn.bsky.app/img/avatar/")
    assert why.bio.startswith("Technical advisor to @bluesky")
    assert actors[1].display_name == "devin ivy 🐋"


def test_a_profile_whose_handle_is_invalid_shows_the_did() -> None:
    profile = dict(_golden("getFollows.json")["subject"], handle="handle.invalid")
    actor = actor_from_profile(profile)
    assert actor.handle == "did:plc:kvwvcn5iqfooopmyzvb4qzba"
    assert actor.url == "https://bsky.app/profile/did:plc:kvwvcn5iqfooopmyzvb4qzba"


def test_a_feed_post_becomes_a_post() -> None:
    view = _golden("getPostThread.json")["thread"]["post"]
    post = post_from_feed_view({"post": view})
    assert post.id == "at://did:plc:kvwvcn5iqfooopmyzvb4qzba/app.bsky.feed.post/3kaheyt6vpc22"
    assert post.author.handle == "test.marshal.dev"
    assert post.author.display_name == "Python SDK"
    assert post.published == datetime(2023, 9, 28, 12, 49, 36, 735000, tzinfo=UTC)
    assert post.url == "https://bsky.app/profile/test.marshal.dev/post/3kaheyt6vpc22"
    assert post.text == ""
    assert [media.url for media in post.media] == [view["embed"]["media"]["images"][0]["fullsize"]]
    assert post.reply_to is None
    assert post_from_feed_view(view) == post


def test_a_reply_names_its_parent() -> None:
    view = copy.deepcopy(_golden("getPostThread.json")["thread"]["post"])
    parent = "at://did:plc:kvwvcn5iqfooopmyzvb4qzba/app.bsky.feed.post/3kahesw26il2z"
    strong = {"uri": parent, "cid": "bafyreier7l7l33k23invvoeth2ed2hkwlxlv3igbhp3536hmmeouob7mzi"}
    view["record"]["reply"] = {"root": strong, "parent": strong}
    view["record"]["text"] = "Sure 👍"
    post = post_from_feed_view({"post": view})
    assert (post.reply_to, post.text) == (parent, "Sure 👍")


@pytest.mark.parametrize(
    "item",
    [{}, {"post": "x"}, {"post": {"uri": "at://x", "author": {"did": "nope"}}}],
)
def test_a_broken_feed_item_is_a_clear_error(item: dict[str, Any]) -> None:
    with pytest.raises(PermanentError):
        post_from_feed_view(item)


def test_a_profile_record_becomes_an_actor() -> None:
    record = {
        "uri": "at://did:plc:kvwvcn5iqfooopmyzvb4qzba/app.bsky.actor.profile/self",
        "value": {
            "$type": "app.bsky.actor.profile",
            "displayName": " Ada ",
            "description": "Counting engines",
            "avatar": {
                "$type": "blob",
                "ref": {"$link": "bafkreicwqcugdgubtawr6xv6jjifoju67eigwx2xgz4zs73nkzzn36oucy"},
                "mimeType": "image/jpeg",
                "size": 1234,
            },
        },
    }
    actor = actor_from_profile_record(
        "did:plc:kvwvcn5iqfooopmyzvb4qzba", "ada.example.com", record, "https://pds.example.com"
    )
    assert (actor.id, actor.handle, actor.display_name, actor.bio) == (
        "did:plc:kvwvcn5iqfooopmyzvb4qzba",
        "ada.example.com",
        "Ada",
        "Counting engines",
    )
    assert actor.avatar_url == (
        "https://pds.example.com/xrpc/com.atproto.sync.getBlob?did=did%3Aplc%3Akvwvcn5iqfooopmyzvb4qzba"
        "&cid=bafkreicwqcugdgubtawr6xv6jjifoju67eigwx2xgz4zs73nkzzn36oucy"
    )
    bare = actor_from_profile_record(
        "did:plc:kvwvcn5iqfooopmyzvb4qzba", None, {}, "https://pds.example.com"
    )
    assert (bare.handle, bare.display_name, bare.avatar_url) == (
        "did:plc:kvwvcn5iqfooopmyzvb4qzba",
        "",
        None,
    )


# -- resolution by DNS and HTTPS (no real network: DNS is faked, HTTPS mocked) -----------------


def _txt(records: dict[str, list[str]]) -> atproto.TxtLookup:
    async def lookup(name: str) -> list[str]:
        return records.get(name, [])

    return lookup


async def test_a_dns_txt_record_resolves_a_handle() -> None:
    resolver = Resolver(
        txt_lookup=_txt({"_atproto.ada.example.com": ["v=spf1 -all", f"did={PLC_DID}"]}),
        well_known=False,
    )
    async with httpx.AsyncClient() as http:
        assert await resolver.resolve_handle("ada.example.com", http) == PLC_DID


async def test_dns_records_naming_two_accounts_are_refused() -> None:
    other = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
    resolver = Resolver(
        txt_lookup=_txt({"_atproto.ada.example.com": [f"did={PLC_DID}", f"did={other}"]})
    )
    async with httpx.AsyncClient() as http:
        with pytest.raises(InvalidHandle, match="more than one account"):
            await resolver.resolve_handle("ada.example.com", http)


async def test_the_https_well_known_address_resolves_a_handle() -> None:
    resolver = Resolver(txt_lookup=_txt({}))
    async with respx.mock(assert_all_called=True) as mock, httpx.AsyncClient() as http:
        mock.get("https://ada.example.com/.well-known/atproto-did").respond(
            200, text=f"\n{PLC_DID}\n", headers={"Content-Type": "text/plain"}
        )
        assert await resolver.resolve_handle("ada.example.com", http) == PLC_DID


async def test_a_handle_nothing_answers_for_is_refused() -> None:
    resolver = Resolver(txt_lookup=_txt({}), service_url="https://resolver.example.com")
    async with respx.mock(assert_all_called=True) as mock, httpx.AsyncClient() as http:
        mock.get("https://ada.example.com/.well-known/atproto-did").respond(200, text="<html>")
        mock.get("https://resolver.example.com/xrpc/com.atproto.identity.resolveHandle").respond(
            400, json={"error": "HandleNotFound", "message": "Unable to resolve handle"}
        )
        with pytest.raises(InvalidHandle, match=r"No account uses the handle @ada\.example\.com"):
            await resolver.resolve_handle("ada.example.com", http)


async def test_a_resolver_that_is_down_may_be_tried_again() -> None:
    resolver = Resolver(dns=False, well_known=False, service_url="https://resolver.example.com")
    async with respx.mock() as mock, httpx.AsyncClient() as http:
        mock.get("https://resolver.example.com/xrpc/com.atproto.identity.resolveHandle").respond(
            503
        )
        with pytest.raises(Retriable, match="could not be checked"):
            await resolver.resolve_handle("ada.example.com", http)


# -- the same, with a fake network (respx): what a real one cannot be made to do ---------------

PDS = "https://pds.example.com"
PLC = "https://plc.example.com"
RESOLVER = "https://resolver.example.com"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"


def _mock_handle(mock: respx.MockRouter, handle: str, did: str) -> None:
    """The resolver says ``handle`` is ``did``."""
    mock.get(
        f"{RESOLVER}/xrpc/com.atproto.identity.resolveHandle", params={"handle": handle}
    ).respond(200, json={"did": did})


def _mock_document(mock: respx.MockRouter, did: str, names: str) -> None:
    """The PLC directory says ``did`` is hosted on :data:`PDS` and named ``names``."""
    pds = {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": PDS}
    mock.get(f"{PLC}/{did}").respond(
        200, json={"id": did, "alsoKnownAs": [f"at://{names}"], "service": [pds]}
    )


def _mock_identity(mock: respx.MockRouter, handle: str, did: str, names: str) -> None:
    _mock_handle(mock, handle, did)
    _mock_document(mock, did, names)


def _faked() -> Context:
    """A portal that resolves identities with :func:`_fake_resolver`."""
    return Context(resolver=_fake_resolver())


def _on(network: AtprotoNetwork) -> Context:
    """A portal that resolves identities on the test network."""
    return Context(resolver=network.resolver)


def _fake_resolver() -> Resolver:
    return Resolver(plc_url=PLC, service_url=RESOLVER, dns=False, well_known=False)


async def test_a_handle_whose_account_names_another_handle_is_refused() -> None:
    async with respx.mock(assert_all_called=False) as mock, httpx.AsyncClient() as http:
        _mock_identity(mock, "ceo.example.com", PLC_DID, names="mallory.example.com")
        session = mock.post(f"{PDS}/xrpc/com.atproto.server.createSession")
        with pytest.raises(InvalidHandle) as raised:
            await Bluesky.sign_in("ceo.example.com", APP_PASSWORD, http, context=_faked())
        assert "names @mallory.example.com" in raised.value.message
        assert "@ceo.example.com is not confirmed" in raised.value.message
        assert not session.called


def _session_answer(did: str, handle: str) -> dict[str, Any]:
    return {"accessJwt": "access", "refreshJwt": "refresh", "did": did, "handle": handle}


async def test_a_did_whose_handle_does_not_point_back_is_shown_without_it() -> None:
    async with respx.mock() as mock, httpx.AsyncClient() as http:
        # The document of PLC_DID claims ceo.example.com, which belongs to someone else.
        _mock_document(mock, PLC_DID, names="ceo.example.com")
        _mock_handle(mock, "ceo.example.com", "did:plc:ewvi7nxzyoun6zhxrhs64oiz")
        mock.post(f"{PDS}/xrpc/com.atproto.server.createSession").respond(
            200, json=_session_answer(PLC_DID, "ceo.example.com")
        )
        mock.get(f"{PDS}/xrpc/app.bsky.actor.getProfile").respond(
            200, json={"did": PLC_DID, "handle": "ceo.example.com", "displayName": "Mallory"}
        )
        linked = await Bluesky.sign_in(PLC_DID, APP_PASSWORD, http, context=_faked())
    assert linked.actor.id == PLC_DID
    assert linked.actor.handle == PLC_DID
    assert linked.actor.url == f"https://bsky.app/profile/{PLC_DID}"
    assert linked.actor.display_name == "Mallory"


async def test_a_session_for_another_account_is_refused() -> None:
    async with respx.mock() as mock, httpx.AsyncClient() as http:
        _mock_identity(mock, "ada.example.com", PLC_DID, "ada.example.com")
        mock.post(f"{PDS}/xrpc/com.atproto.server.createSession").respond(
            200, json=_session_answer("did:plc:ewvi7nxzyoun6zhxrhs64oiz", "other.example.com")
        )
        with pytest.raises(PermanentError, match="signed in another account"):
            await Bluesky.sign_in("ada.example.com", APP_PASSWORD, http, context=_faked())


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "says"),
    [
        (
            401,
            {"error": "AuthFactorTokenRequired", "message": "A sign in code has been sent"},
            {},
            PermanentError,
            TWO_FACTOR,
        ),
        (401, {"error": "AccountTakedown"}, {}, PermanentError, "taken this account down"),
        (401, {"error": "AuthenticationRequired"}, {}, PermanentError, REFUSED),
        (429, {"error": "RateLimitExceeded"}, {"RateLimit-Reset": "{reset}"}, RateLimited, "slow"),
        (502, "<html>Bad gateway</html>", {}, Retriable, "HTTP 502"),
        (200, "[" * 100_000, {}, Retriable, "other than JSON"),
    ],
)
async def test_what_the_pds_says_when_signing_in_is_explained(
    status: int, body: Any, headers: dict[str, str], error: type[Exception], says: str
) -> None:
    reset = int(time.time()) + 30
    headers = {name: value.format(reset=reset) for name, value in headers.items()}
    async with respx.mock() as mock, httpx.AsyncClient() as http:
        _mock_identity(mock, "ada.example.com", PLC_DID, "ada.example.com")
        answer = {"json": body} if isinstance(body, dict) else {"text": body}
        mock.post(f"{PDS}/xrpc/com.atproto.server.createSession").respond(
            status, headers=headers, **answer
        )
        with pytest.raises(error) as raised:
            await Bluesky.sign_in("ada.example.com", APP_PASSWORD, http, context=_faked())
    assert says in str(raised.value)
    if isinstance(raised.value, RateLimited):
        assert raised.value.retry_after is not None
        assert 25 <= raised.value.retry_after <= 30


# -- a real network: PLC directory and PDS ----------------------------------------------------


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15) as client:
        yield client


@pytest.fixture
async def ada(atproto_network: AtprotoNetwork) -> AtprotoAccount:
    return await atproto_network.create_account(
        "ada", display_name="Ada Lovelace", description="Counting engines"
    )


async def _linked(
    network: AtprotoNetwork, account: AtprotoAccount, http: httpx.AsyncClient
) -> Bluesky:
    secret = await network.create_app_password(account)
    linked = await Bluesky.sign_in(account.handle, secret, http, context=_on(network))
    return Bluesky(linked.actor.handle, linked.credentials, http, context=_on(network))


def _expired(token: str, secret: str) -> str:
    """The same access JWT, but expired an hour ago, signed as the development PDS signs."""
    header, payload, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["iat"], claims["exp"] = int(time.time()) - 7200, int(time.time()) - 3600
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    signed = f"{header}.{body}".encode()
    signature = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return f"{header}.{body}." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


async def test_handles_and_dids_resolve_both_ways(
    atproto_network: AtprotoNetwork, ada: AtprotoAccount, http: httpx.AsyncClient
) -> None:
    resolver = atproto_network.resolver
    by_handle = await resolver.resolve(ada.handle, http)
    assert (by_handle.did, by_handle.handle, by_handle.pds) == (
        ada.did,
        ada.handle,
        atproto_network.pds_url,
    )
    assert await resolver.resolve(ada.did, http) == by_handle
    with pytest.raises(InvalidHandle, match="No account uses the handle"):
        await resolver.resolve("nobody-here.test", http)
    with pytest.raises(InvalidHandle, match="does not exist"):
        await resolver.resolve("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", http)


async def test_signing_in_with_an_app_password_links_the_account(
    atproto_network: AtprotoNetwork, ada: AtprotoAccount, http: httpx.AsyncClient
) -> None:
    secret = await atproto_network.create_app_password(ada)
    typed = f"  @{ada.handle.upper()} "
    linked = await Bluesky.sign_in(typed, f" {secret} ", http, context=_on(atproto_network))
    assert linked.actor.id == ada.did
    assert linked.actor.handle == ada.handle
    assert linked.actor.display_name == "Ada Lovelace"
    assert linked.actor.bio == "Counting engines"
    assert linked.actor.url == f"https://bsky.app/profile/{ada.handle}"
    assert linked.credentials.extra == {"did": ada.did, "pds": atproto_network.pds_url}
    assert linked.credentials.access_token and linked.credentials.refresh_token
    assert secret not in json.dumps(
        [
            linked.credentials.access_token,
            linked.credentials.refresh_token,
            dict(linked.credentials.extra),
        ]
    )
    connector = Bluesky(ada.handle, linked.credentials, http, context=_on(atproto_network))
    assert await connector.get_actor() == linked.actor


async def test_signing_in_by_did_finds_the_handle(
    atproto_network: AtprotoNetwork, ada: AtprotoAccount, http: httpx.AsyncClient
) -> None:
    secret = await atproto_network.create_app_password(ada)
    linked = await Bluesky.sign_in(ada.did, secret, http, context=_on(atproto_network))
    assert (linked.actor.id, linked.actor.handle) == (ada.did, ada.handle)


async def test_a_wrong_app_password_is_refused_clearly(
    atproto_network: AtprotoNetwork, ada: AtprotoAccount, http: httpx.AsyncClient
) -> None:
    other = await atproto_network.create_account("bob")
    others_secret = await atproto_network.create_app_password(other)
    for secret in ("abcd-efgh-ijkl-mnop", others_secret):
        with pytest.raises(PermanentError) as raised:
            await Bluesky.sign_in(ada.handle, secret, http, context=_on(atproto_network))
        assert raised.value.message == REFUSED


async def test_the_account_password_is_refused_before_it_is_sent(
    atproto_network: AtprotoNetwork, ada: AtprotoAccount
) -> None:
    def nothing_may_be_sent(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"a request was sent: {request.url}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(nothing_may_be_sent)) as http:
        for secret in (ada.password, "", "   "):
            with pytest.raises(PermanentError) as raised:
                await Bluesky.sign_in(ada.handle, secret, http, context=_on(atproto_network))
            assert "app password" in raised.value.message
    assert ASK_FOR_APP_CREDENTIAL.startswith("Sign in with an app password")


async def test_an_expired_access_token_is_refreshed(
    atproto_network: AtprotoNetwork, ada: AtprotoAccount, http: httpx.AsyncClient
) -> None:
    connector = await _linked(atproto_network, ada, http)
    expired = _expired(connector.credentials.access_token, atproto_network.jwt_secret)
    refresh = connector.credentials.refresh_token
    connector.credentials = Credentials(
        access_token=expired, refresh_token=refresh, extra=connector.credentials.extra
    )
    actor = await connector.get_actor()
    assert (actor.id, actor.display_name) == (ada.did, "Ada Lovelace")
    assert connector.credentials.access_token not in ("", expired)
    assert connector.credentials.refresh_token not in ("", refresh)
    assert connector.credentials.extra["did"] == ada.did


async def test_a_deleted_session_is_reported_as_revoked(
    atproto_network: AtprotoNetwork, ada: AtprotoAccount, http: httpx.AsyncClient
) -> None:
    connector = await _linked(atproto_network, ada, http)
    assert await connector.revoke() is True
    assert await connector.revoke() is True  # already gone: nothing left to end
    expired = _expired(connector.credentials.access_token, atproto_network.jwt_secret)
    connector.credentials = Credentials(
        access_token=expired,
        refresh_token=connector.credentials.refresh_token,
        extra=connector.credentials.extra,
    )
    with pytest.raises(AuthRevoked) as raised:
        await connector.get_actor()
    assert raised.value.message == REVOKED


async def test_a_revoked_app_password_ends_the_link(
    atproto_network: AtprotoNetwork, ada: AtprotoAccount, http: httpx.AsyncClient
) -> None:
    connector = await _linked(atproto_network, ada, http)
    listed = await atproto_network.xrpc("com.atproto.server.listAppPasswords", token=ada.access_jwt)
    for password in listed["passwords"]:
        await atproto_network.xrpc(
            "com.atproto.server.revokeAppPassword", {"name": password["name"]}, token=ada.access_jwt
        )
    connector.credentials = Credentials(
        access_token=_expired(connector.credentials.access_token, atproto_network.jwt_secret),
        refresh_token=connector.credentials.refresh_token,
        extra=connector.credentials.extra,
    )
    with pytest.raises(AuthRevoked):
        await connector.get_actor()


async def test_a_token_the_pds_never_issued_is_revoked(
    atproto_network: AtprotoNetwork, ada: AtprotoAccount, http: httpx.AsyncClient
) -> None:
    connector = await _linked(atproto_network, ada, http)
    connector.credentials = Credentials(
        access_token=_expired(connector.credentials.access_token, "not the secret"),
        refresh_token="not.a.token",
        extra=connector.credentials.extra,
    )
    with pytest.raises(AuthRevoked):
        await connector.get_actor()


async def test_a_changed_handle_is_confirmed_before_it_is_shown(
    atproto_network: AtprotoNetwork, http: httpx.AsyncClient
) -> None:
    account = await atproto_network.create_account("eve")
    connector = await _linked(atproto_network, account, http)
    renamed = f"new-{account.handle}"
    await atproto_network.xrpc(
        "com.atproto.identity.updateHandle", {"handle": renamed}, token=account.access_jwt
    )
    actor = await connector.get_actor()
    assert (actor.id, actor.handle) == (account.did, renamed)
