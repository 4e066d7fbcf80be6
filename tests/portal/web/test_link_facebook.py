"""Linking Facebook and Instagram accounts by Facebook Login, end to end through the web
routes.

No Facebook runs here, so the login dialog's answer and the Graph API are faked at the HTTP
layer with respx, in the shapes developers.facebook.com documents: the dialog sends the person
back with ``code`` and ``state`` (or ``error=access_denied``, ``error_reason=user_denied``);
``oauth/access_token`` takes the code with the app's ``client_id`` and ``client_secret`` as
parameters and the PKCE verifier, and answers a short-lived user token, which
``grant_type=fb_exchange_token`` turns into a long-lived one; ``/me/accounts`` lists the
Pages the person let the app reach, with their tokens, or the Instagram professional account
of each; a failure is a Graph API error object (``{"error": {"message", "type", "code",
"error_subcode", "fbtrace_id"}}``, tests/testdata/facebook).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import respx
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors import _graph
from connectors.base import Draft, PermanentError, Upload
from connectors.facebook import Facebook
from connectors.instagram import Instagram
from portal.config import Settings
from portal.domain import linking
from portal.domain.posts import compose
from portal.storage.models import LinkedAccount, User
from portal.storage.posts import Post, PostMedia
from tests.fixtures.app import HTML, get_csrf, make_settings, post_form
from tests.fixtures.images import encode

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"
GRAPH = f"/{_graph.VERSION}"
APP_ID = "1234567890123456"
APP_SECRET = "meta-app-secret-0123456789"
PAGE = "1234567890"
PAGE_TOKEN = "EAAPageTokenSECRET9876543210"
IG = "17841405822304914"
CONTAINER = "17889455560051444"
IG_POST = "17920238422030506"
PERSON = "10158123456789012"


def _data(path: str) -> bytes:
    return (TESTDATA / path).read_bytes()


def _form(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


def _graph_error(code: int, message: str, subcode: int | None = None) -> httpx.Response:
    error: dict[str, object] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "AbCdEfGh123"
    return httpx.Response(400, json={"error": error})


@dataclass
class Grant:
    challenge: str
    redirect_uri: str


@dataclass
class FakeMeta:
    """Facebook Login and the Graph API for Ada, who manages two Pages, one of them with an
    Instagram professional account."""

    instagram: bool = True
    """Whether a Page of Ada's has an Instagram professional account."""
    grants: dict[str, Grant] = field(default_factory=dict)
    short: set[str] = field(default_factory=set)
    long: set[str] = field(default_factory=set)
    requests: list[httpx.Request] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)

    def install(self, router: respx.MockRouter) -> None:
        router.route(host="graph.facebook.com").mock(side_effect=self._graph)

    def approve(self, url: str) -> str:
        """Ada logs in and allows the app in Facebook's dialog."""
        parts = urlsplit(url)
        dialog = f"https://www.facebook.com/{_graph.VERSION}/dialog/oauth"
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == dialog
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        assert (query["client_id"], query["response_type"]) == (APP_ID, "code")
        assert query["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(32)
        self.grants[code] = Grant(query["code_challenge"], query["redirect_uri"])
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}#_=_"

    def decline(self, url: str) -> str:
        query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
        answer = {
            "error": "access_denied",
            "error_code": "200",
            "error_description": "Permissions error",
            "error_reason": "user_denied",
            "state": query["state"],
        }
        return f"{query['redirect_uri']}?{urlencode(answer)}#_=_"

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if (r.method, r.url.path) == (method, GRAPH + path)]

    def _graph(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix(GRAPH)
        if (request.method, path) == ("POST", "/oauth/access_token"):
            return self._token(request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if request.method == "POST" and path == f"/{PAGE}/feed":
            if token != PAGE_TOKEN:
                return _graph_error(190, "Invalid OAuth access token.")
            return httpx.Response(200, content=_data("facebook/feed.post.json"))
        if request.method == "GET" and path == f"/{PAGE}/feed":
            return httpx.Response(200, content=_data("facebook/feed.empty.json"))
        if token not in self.long:
            return httpx.Response(400, content=_data("facebook/error.190.json"))
        fields = request.url.params.get("fields", "")
        if (request.method, path) == ("GET", "/me"):
            return httpx.Response(200, content=_data("facebook/me.json"))
        if (request.method, path) == ("GET", "/me/accounts"):
            if "instagram_business_account" in fields:
                if not self.instagram:
                    return httpx.Response(200, json={"data": [{"id": PAGE}]})
                return httpx.Response(200, content=_data("instagram/me.accounts.json"))
            pages = json.loads(_data("facebook/me.accounts.json"))
            if "access_token" not in fields:
                for page in pages["data"]:
                    page.pop("access_token", None)
            return httpx.Response(200, json=pages)
        if (request.method, path) == ("GET", f"/{IG}"):
            return httpx.Response(200, content=_data("instagram/ig_user.json"))
        publishing = {
            ("GET", f"/{IG}/media"): "media.empty",
            ("GET", f"/{IG}/content_publishing_limit"): "content_publishing_limit",
            ("POST", f"/{IG}/media"): "container",
            ("GET", f"/{CONTAINER}"): "status.finished",
            ("POST", f"/{IG}/media_publish"): "media_publish",
            ("GET", f"/{IG_POST}"): "permalink",
        }
        if (request.method, path) in publishing:
            name = publishing[request.method, path]
            return httpx.Response(200, content=_data(f"instagram/{name}.json"))
        if (request.method, path) == ("GET", f"/{PAGE}"):
            return httpx.Response(200, content=_data("facebook/page.access_token.json"))
        if (request.method, path) == ("DELETE", "/me/permissions"):
            self.revoked.append(token)
            self.long.clear()
            return httpx.Response(200, content=_data("facebook/success.json"))
        return _graph_error(100, "Unsupported request.", 33)

    def _token(self, request: httpx.Request) -> httpx.Response:
        sent = _form(request)
        if (sent.get("client_id"), sent.get("client_secret")) != (APP_ID, APP_SECRET):
            return _graph_error(101, "Error validating application. Invalid application ID.")
        if sent.get("grant_type") == "fb_exchange_token":
            if sent.get("fb_exchange_token") not in self.short:
                return _graph_error(190, "Invalid OAuth access token.")
            token = "EAALong" + secrets.token_urlsafe(24)
            self.long.add(token)
            return httpx.Response(
                200, json={"access_token": token, "token_type": "bearer", "expires_in": 5183944}
            )
        grant = self.grants.pop(sent.get("code", ""), None)
        if grant is None:
            return _graph_error(100, "This authorization code has been used.", 36009)
        verifier = sent.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if grant.redirect_uri != sent.get("redirect_uri") or digest.rstrip(b"=").decode() != (
            grant.challenge
        ):
            return _graph_error(100, "Error validating verification code.", 36008)
        token = "EAAShort" + secrets.token_urlsafe(24)
        self.short.add(token)
        return httpx.Response(
            200, json={"access_token": token, "token_type": "bearer", "expires_in": 5183}
        )


@pytest.fixture
def settings() -> Settings:
    return make_settings(
        facebook_app_id=APP_ID,
        facebook_app_secret=APP_SECRET,
        instagram_app_id=APP_ID,
        instagram_app_secret=APP_SECRET,
    )


@pytest.fixture
def meta() -> Iterator[FakeMeta]:
    fake = FakeMeta()
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        fake.install(router)
        yield fake


async def _start(client: httpx.AsyncClient, network: str) -> str:
    page = await client.get(f"/me/accounts/add?network={network}", headers=HTML)
    assert "Continue to " in page.text and "Your server" not in page.text
    token = await get_csrf(client, "/me/accounts")
    response = await client.post(
        f"/me/accounts/{network}/authorize",
        data={"csrf_token": token},
        headers={**HTML, "hx-request": "true"},
    )
    assert response.status_code == 204, response.text
    url: str = response.headers["hx-redirect"]
    return url


def _local(url: str, network: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        f"https://portal.test/me/accounts/{network}/callback"
    )
    return f"{parts.path}?{parts.query}"  # a browser keeps the fragment to itself


async def _link(client: httpx.AsyncClient, meta: FakeMeta, network: str) -> httpx.Response:
    url = await _start(client, network)
    return await client.get(_local(meta.approve(url), network), headers=HTML)


async def _accounts(db: AsyncSession) -> list[LinkedAccount]:
    db.expire_all()
    return list((await db.scalars(select(LinkedAccount).order_by(LinkedAccount.id))).all())


async def test_the_login_dialog_asks_for_the_pages_with_pkce(signed_in, meta):
    url = await _start(signed_in, "facebook")
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    assert query["redirect_uri"] == "https://portal.test/me/accounts/facebook/callback"
    assert query["scope"].split() == [
        "pages_show_list",
        "pages_manage_posts",
        "pages_read_engagement",
    ]
    assert len(query["code_challenge"]) == 43 and len(query["state"]) >= 32
    assert meta.requests == []


async def test_a_facebook_link_keeps_the_pages_and_publishes_to_the_one_chosen(
    signed_in, meta, db, app
):
    response = await _link(signed_in, meta, "facebook")
    assert response.status_code == 303, response.text
    [account] = await _accounts(db)
    assert (account.network, account.status, account.verified_by) == (
        "facebook",
        "verified",
        "oauth",
    )
    assert (account.handle, account.external_id, account.display_name) == (
        PERSON,
        PERSON,
        "Ada Lovelace",
    )

    # The code was exchanged with the app's id and secret as parameters, never in a header.
    [exchange] = meta.calls("POST", "/oauth/access_token")[:1]
    sent = _form(exchange)
    assert sent["grant_type"] == "authorization_code" and "code_verifier" in sent
    assert not exchange.headers.get("authorization", "").startswith("Basic")

    # The short-lived token became a long-lived one, and the Pages Ada allowed are kept with
    # their own tokens (the second Page gives none: she may not post there).
    services = app.state.links
    kept = services.vault.decrypt_json(account.secrets)
    assert kept["access_token"] in meta.long
    assert kept["extra"]["pages"] == [
        {"id": PAGE, "name": "Analytical Engines", "access_token": PAGE_TOKEN}
    ]
    assert PAGE_TOKEN not in account.secrets
    assert account.token_expires_at is not None

    # A post names its Page, here by the Page's name: it goes out with the kept Page token.
    credentials = linking.load_credentials(services, account)
    async with httpx.AsyncClient() as http:
        published = await Facebook(account.handle, credentials, http).publish(
            Draft("Hello from the engine room", destination="analytical engines"), "k-1"
        )
    assert published.id == "1234567890_5550001"
    assert meta.calls("GET", f"/{PAGE}") == []  # no Page token asked for: it was kept
    [post] = meta.calls("POST", f"/{PAGE}/feed")
    assert post.headers["authorization"] == f"Bearer {PAGE_TOKEN}"
    async with httpx.AsyncClient() as http:
        with pytest.raises(PermanentError, match=r"None of the Pages .* Analytical Engines"):
            await Facebook(account.handle, credentials, http).publish(
                Draft("Hi", destination="Somebody Else's Page"), "k-2"
            )

    # Unlinking takes back what Ada allowed the app.
    assert (await post_form(signed_in, f"/me/accounts/{account.id}/remove")).status_code == 303
    assert await _accounts(db) == []
    assert meta.revoked == [kept["access_token"]]


async def test_an_instagram_link_keeps_the_professional_account(signed_in, meta, db, app):
    response = await _link(signed_in, meta, "instagram")
    assert response.status_code == 303, response.text
    [account] = await _accounts(db)
    assert (account.network, account.status, account.handle, account.external_id) == (
        "instagram",
        "verified",
        "analytical.engines",
        IG,
    )
    kept = app.state.links.vault.decrypt_json(account.secrets)
    assert kept["access_token"] in meta.long
    assert kept["extra"]["ig_user_id"] == IG
    exchanges = [_form(r)["grant_type"] for r in meta.calls("POST", "/oauth/access_token")]
    assert exchanges == ["authorization_code", "fb_exchange_token"]


async def test_an_instagram_post_takes_its_picture_from_the_portal(signed_in, meta, db, app):
    assert (await _link(signed_in, meta, "instagram")).status_code == 303
    [account] = await _accounts(db)
    jpeg = encode(Image.new("RGB", (40, 30), "teal"), "JPEG")
    user = (await db.scalars(select(User))).one()
    post = Post(id=compose.new_id(), user_id=user.id, text="The engine", state="published")
    db.add(post)
    await db.flush()
    media = PostMedia(
        id=compose.new_id(),
        user_id=user.id,
        post_id=post.id,
        mime_type="image/jpeg",
        size=len(jpeg),
        data=jpeg,
    )
    db.add(media)
    await db.commit()

    services = app.state.links
    credentials = linking.load_credentials(services, account)
    upload = Upload(jpeg, "image/jpeg", "A teal engine", id=media.id)
    async with httpx.AsyncClient() as http:
        instagram = Instagram(account.handle, credentials, http, context=services.context)
        published = await instagram.publish(Draft("The engine", uploads=(upload,)), "k-1")
    assert published.url == "https://www.instagram.com/p/C8abc123XYZ/"

    # Instagram was given the portal's address of the picture, and fetches it from there
    # without signing in.
    [container] = meta.calls("POST", f"/{IG}/media")
    sent = _form(container)
    assert (sent["caption"], sent["alt_text"]) == ("The engine", "A teal engine")
    address = urlsplit(sent["image_url"])
    assert (address.scheme, address.netloc) == ("https", "portal.test")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://portal.test") as fetcher:
        fetched = await fetcher.get(address.path)
    assert fetched.status_code == 200 and fetched.content == jpeg


async def test_unlinking_one_of_two_accounts_of_one_meta_app_keeps_the_others_access(
    signed_in, meta, db
):
    assert (await _link(signed_in, meta, "facebook")).status_code == 303
    assert (await _link(signed_in, meta, "instagram")).status_code == 303
    facebook, instagram = await _accounts(db)
    assert (await post_form(signed_in, f"/me/accounts/{facebook.id}/remove")).status_code == 303
    assert meta.revoked == []  # Meta would end Instagram's access with Facebook's
    checked = await post_form(signed_in, f"/me/accounts/{instagram.id}/check")
    assert checked.status_code == 303
    [instagram] = await _accounts(db)
    assert instagram.status == "verified"
    assert (await post_form(signed_in, f"/me/accounts/{instagram.id}/remove")).status_code == 303
    assert len(meta.revoked) == 1


async def test_an_instagram_link_without_a_professional_account_says_what_to_do(
    signed_in, meta, db
):
    meta.instagram = False
    response = await _link(signed_in, meta, "instagram")
    assert response.status_code == 422
    assert "has an Instagram professional account" in response.text
    assert await _accounts(db) == []


@pytest.mark.parametrize("network", ["facebook", "instagram"])
async def test_declining_in_the_dialog_links_nothing(signed_in, meta, db, network):
    declined = meta.decline(await _start(signed_in, network))
    response = await signed_in.get(_local(declined, network), headers=HTML)
    assert response.status_code == 422
    assert "did not allow the link" in response.text
    assert await _accounts(db) == [] and meta.requests == []


async def test_a_wrong_state_links_nothing(signed_in, meta, db):
    callback = _local(meta.approve(await _start(signed_in, "facebook")), "facebook")
    response = await signed_in.get(callback.replace("state=", "state=x"), headers=HTML)
    assert response.status_code == 422
    assert "does not belong to a link you started" in response.text
    assert await _accounts(db) == [] and meta.requests == []


async def test_a_code_facebook_refuses_says_what_facebook_said(signed_in, meta, db):
    callback = _local(meta.approve(await _start(signed_in, "facebook")), "facebook")
    meta.grants.clear()
    response = await signed_in.get(callback, headers=HTML)
    assert response.status_code == 422
    assert "This authorization code has been used." in response.text
    assert await _accounts(db) == []


async def test_a_token_facebook_no_longer_accepts_links_nothing(signed_in, meta, db, app):
    url = await _start(signed_in, "facebook")
    meta.long = _Forgetting()  # the session ends as soon as it begins
    response = await signed_in.get(_local(meta.approve(url), "facebook"), headers=HTML)
    assert response.status_code == 422
    assert "Facebook no longer accepts this connection" in response.text
    assert await _accounts(db) == []


async def test_a_revoked_facebook_token_asks_to_connect_again(signed_in, meta, db):
    assert (await _link(signed_in, meta, "facebook")).status_code == 303
    [account] = await _accounts(db)
    meta.long.clear()  # Ada removed the app in her Facebook settings
    assert (await post_form(signed_in, f"/me/accounts/{account.id}/check")).status_code == 303
    [account] = await _accounts(db)
    assert account.status == "needs_reconnect"


class _Forgetting(set[str]):
    """Tokens that are issued, and at once no longer accepted."""

    def add(self, token: str) -> None:
        pass
