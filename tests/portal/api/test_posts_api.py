"""Cross-posting through the API, delivered by the worker to a Mastodon instance faked at the
HTTP layer (respx) with the documented shapes (tests/testdata/mastodon)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors import base
from connectors.mastodon import Mastodon
from portal.deps import job_worker
from portal.domain import account, jobs, linking
from portal.storage.models import LinkedAccount, User, utcnow
from portal.storage.posts import Job
from tests.fixtures.publishing import ROOT, mastodon_account
from tests.portal.domain import people


async def _someone(db: AsyncSession, name: str) -> tuple[User, dict[str, str]]:
    user = await people.person(db, name)
    token = (await account.create_token(db, user, name="tests")).secret
    return user, {"authorization": f"Bearer {token}"}


@pytest.fixture
async def ada(db: AsyncSession, app: FastAPI) -> dict[str, Any]:
    """Ada, with a token and a working Mastodon account."""
    user, headers = await _someone(db, "Ada")
    linked = await mastodon_account(db, app, user)
    await db.commit()
    return {"headers": headers, "account": linked.id, "user": user}


@pytest.fixture
def worker(app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]) -> jobs.Worker:
    # One job at a time: the test's sessions share one connection.
    return job_worker(app.state.settings, sessionmaker, app.state.links, concurrency=1)


async def _post(client: httpx.AsyncClient, ada: dict[str, Any], **body: Any) -> httpx.Response:
    body.setdefault("targets", [{"account_id": ada["account"]}])
    return await client.post("/api/v1/posts", json=body, headers=ada["headers"])


async def _get(client: httpx.AsyncClient, ada: dict[str, Any], post_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/posts/{post_id}", headers=ada["headers"])
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_a_post_is_published_once_and_its_remote_address_kept(
    client, ada, instance, worker
) -> None:
    created = await _post(client, ada, text="Hello from Portal", content_warning="greetings")
    assert created.status_code == 201, created.text
    post = created.json()
    (delivery,) = post["deliveries"]
    assert (delivery["status"], delivery["network"]) == ("queued", "mastodon")

    assert await worker.run_due() == 1
    (delivery,) = (await _get(client, ada, post["id"]))["deliveries"]
    assert delivery["status"] == "sent", delivery
    assert delivery["remote_url"] == f"{ROOT}/@ada/1000"
    assert instance.posted == [{"status": ["Hello from Portal"], "spoiler_text": ["greetings"]}]

    # Run again (a worker that crashed after recording, say): nothing more is posted.
    async with worker.sessions() as session:
        await jobs.enqueue(session, "deliver", str(delivery["id"]))
        await session.commit()
    await worker.run_due()
    assert len(instance.posted) == 1


async def test_a_long_text_goes_out_as_a_numbered_thread(client, ada, instance, worker) -> None:
    words = " ".join(f"word{n}" for n in range(150))  # about 1,000 characters
    post = (await _post(client, ada, text=words)).json()
    await worker.run_due()
    (delivery,) = (await _get(client, ada, post["id"]))["deliveries"]
    assert delivery["status"] == "sent"
    assert len(instance.posted) == len(delivery["parts"]) >= 2
    first, second = instance.posted[0], instance.posted[1]
    assert "in_reply_to_id" not in first
    assert second["in_reply_to_id"] == [delivery["parts"][0]["id"]]
    sent = " ".join(form["status"][0] for form in instance.posted)
    assert all(f"word{n}" in sent for n in range(150))
    assert all(len(form["status"][0]) <= 500 for form in instance.posted)


async def test_shortened_instead_the_post_links_to_its_whole_text(
    client, ada, instance, worker
) -> None:
    words = " ".join(f"word{n}" for n in range(150))
    body = {"targets": [{"account_id": ada["account"], "fit": "shorten"}]}
    post = (await _post(client, ada, text=words, **body)).json()
    await worker.run_due()
    (form,) = instance.posted
    assert form["status"][0].endswith(f"https://portal.test/p/{post['id']}")


@pytest.mark.parametrize(
    ("answer", "status", "words"),
    [
        (
            httpx.Response(429, headers={"retry-after": "120"}, json={"error": "Too many"}),
            "retrying",
            "",
        ),
        (httpx.Response(503, text="<html>down</html>"), "retrying", ""),
        (httpx.ReadTimeout("slow"), "retrying", ""),
        (
            httpx.Response(422, json={"error": "Validation failed: Text can't be blank"}),
            "failed",
            "Text can't be blank",
        ),
        (
            httpx.Response(401, json={"error": "The access token was revoked"}),
            "failed",
            "reconnect",
        ),
    ],
)
async def test_each_failure_has_its_status_retry_and_words(
    client, ada, instance, worker, db, answer, status, words
) -> None:
    instance.failure = answer
    post = (await _post(client, ada, text="Hello")).json()
    await worker.run_due()
    (delivery,) = (await _get(client, ada, post["id"]))["deliveries"]
    assert delivery["status"] == status, delivery
    assert words in delivery["error"]
    job = await db.scalar(select(Job).where(Job.subject == str(delivery["id"])))
    if status == "retrying":
        assert delivery["error"], "a retry says why"
        assert job is not None and job.run_at > utcnow()
        wait = job.run_at - utcnow()
        if isinstance(answer, httpx.Response) and answer.status_code == 429:
            assert timedelta(seconds=100) < wait <= timedelta(seconds=120)
        # It passes: the next try sends it.
        instance.failure = None
        async with worker.sessions() as session:
            await jobs.enqueue(session, "deliver", str(delivery["id"]))
            await session.commit()
        await worker.run_due()
        (delivery,) = (await _get(client, ada, post["id"]))["deliveries"]
        assert delivery["status"] == "sent"
        assert delivery["attempts"] == 2
    else:
        assert job is None
    if words == "reconnect":
        account = await db.get(LinkedAccount, ada["account"])
        await db.refresh(account)
        assert account is not None and account.status == linking.NEEDS_RECONNECT


async def test_a_scheduled_post_waits_and_can_be_changed_until_then(
    client, ada, instance, worker, db
) -> None:
    at = (utcnow() + timedelta(hours=2)).isoformat()
    post = (await _post(client, ada, text="Later", publish_at=at)).json()
    assert post["state"] == "scheduled" and post["deliveries"][0]["status"] == "scheduled"
    assert await worker.run_due() == 0
    changed = await client.put(
        f"/api/v1/posts/{post['id']}",
        json={"text": "Later, changed", "targets": [{"account_id": ada["account"]}]},
        headers=ada["headers"],
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["state"] == "published"
    await worker.run_due()
    assert [form["status"] for form in instance.posted] == [["Later, changed"]]
    again = await client.put(
        f"/api/v1/posts/{post['id']}",
        json={"text": "Too late", "targets": [{"account_id": ada["account"]}]},
        headers=ada["headers"],
    )
    assert again.status_code == 422
    assert "can no longer be changed" in again.json()["detail"]


async def test_a_draft_is_kept_without_publishing(client, ada, instance, worker) -> None:
    post = (await _post(client, ada, text="Maybe", draft=True)).json()
    assert post["state"] == "draft"
    assert await worker.run_due() == 0
    assert instance.posted == []


async def test_deleting_a_sent_post_deletes_it_on_the_network(
    client, ada, instance, worker
) -> None:
    post = (await _post(client, ada, text="Oops")).json()
    await worker.run_due()
    deleted = await client.delete(f"/api/v1/posts/{post['id']}", headers=ada["headers"])
    assert deleted.status_code == 202
    assert deleted.json()["deliveries"][0]["status"] == "deleting"
    await worker.run_due()
    assert instance.deleted == ["1000"]
    (delivery,) = (await _get(client, ada, post["id"]))["deliveries"]
    assert delivery["status"] == "deleted"


async def test_deleting_a_post_while_it_goes_out_deletes_the_copy_once_it_is_out(
    client, ada, instance, worker, monkeypatch
) -> None:
    """The person deletes the post while the worker is publishing it: the copy shows as being
    deleted, and once Mastodon has it, it is deleted there."""
    post = (await _post(client, ada, text="Oops, not that")).json()
    publish = Mastodon.publish
    answers: list[httpx.Response] = []

    async def delete_meanwhile(self: Mastodon, draft: base.Draft, key: str) -> base.Published:
        answers.append(await client.delete(f"/api/v1/posts/{post['id']}", headers=ada["headers"]))
        return await publish(self, draft, key)

    monkeypatch.setattr(Mastodon, "publish", delete_meanwhile)
    await worker.run_due()
    (deleted,) = answers
    assert deleted.status_code == 202
    assert deleted.json()["deliveries"][0]["status"] == "deleting"
    assert len(instance.posted) == 1
    assert instance.deleted == ["1000"]
    (delivery,) = (await _get(client, ada, post["id"]))["deliveries"]
    assert delivery["status"] == "deleted"


async def test_deleting_a_post_not_gone_out_cancels_it_for_good(
    client, ada, instance, worker
) -> None:
    post = (await _post(client, ada, text="Never mind")).json()
    deleted = await client.delete(f"/api/v1/posts/{post['id']}", headers=ada["headers"])
    assert deleted.status_code == 202
    assert deleted.json()["deliveries"][0]["status"] == "cancelled"
    assert await worker.run_due() == 0
    assert instance.posted == [] and instance.deleted == []
    (delivery,) = (await _get(client, ada, post["id"]))["deliveries"]
    assert delivery["status"] == "cancelled"


async def test_cancel_and_retry(client, ada, instance, worker) -> None:
    post = (await _post(client, ada, text="Wait")).json()
    delivery_id = post["deliveries"][0]["id"]
    path = f"/api/v1/posts/{post['id']}/deliveries/{delivery_id}"
    cancelled = await client.post(f"{path}/cancel", headers=ada["headers"])
    assert cancelled.json()["status"] == "cancelled"
    assert await worker.run_due() == 0
    retried = await client.post(f"{path}/retry", headers=ada["headers"])
    assert retried.json()["status"] == "queued"
    await worker.run_due()
    assert [form["status"] for form in instance.posted] == [["Wait"]]
    again = await client.post(f"{path}/retry", headers=ada["headers"])
    assert again.status_code == 422


def _png(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(out, "PNG")
    return out.getvalue()


async def test_a_picture_is_uploaded_re_encoded_and_sent_with_its_alt_text(
    client, ada, instance, worker
) -> None:
    uploaded = await client.post(
        "/api/v1/media", files={"file": ("p.png", _png(), "image/png")}, headers=ada["headers"]
    )
    assert uploaded.status_code == 201, uploaded.text
    media = uploaded.json()
    assert (media["width"], media["height"], media["mime_type"]) == (64, 48, "image/jpeg")

    without_alt = await _post(client, ada, text="Look", media=[{"id": media["id"]}])
    assert without_alt.status_code == 422
    assert "Describe each picture" in without_alt.json()["detail"]

    post = await _post(
        client, ada, text="Look", media=[{"id": media["id"], "description": "A teal square"}]
    )
    assert post.status_code == 201, post.text
    await worker.run_due()
    (form,) = instance.posted
    assert form["media_ids[]"] == ["900"]


async def test_bad_posts_are_refused_in_words(client, ada) -> None:
    cases = [
        ({"text": "x", "targets": []}, "at least one account"),
        ({"text": "x", "targets": [{"account_id": 999999}]}, "not one of yours"),
        ({"text": "", "targets": [{"account_id": ada["account"]}]}, "Write something"),
        (
            {"text": "x", "targets": [{"account_id": ada["account"]}], "media": [{"id": "nope"}]},
            "does not exist",
        ),
        (
            {
                "text": "x",
                "targets": [{"account_id": ada["account"]}],
                "publish_at": "2001-01-01T00:00:00Z",
            },
            "in the past",
        ),
    ]
    for body, words in cases:
        answer = await client.post("/api/v1/posts", json=body, headers=ada["headers"])
        assert answer.status_code == 422, (body, answer.text)
        assert words in answer.json()["detail"], answer.json()


async def test_another_persons_post_answers_as_an_unknown_one(client, ada, instance, db) -> None:
    post = (await _post(client, ada, text="Mine")).json()
    _, eve = await _someone(db, "Eve")
    await db.commit()
    theirs = await client.get(f"/api/v1/posts/{post['id']}", headers=eve)
    unknown = await client.get("/api/v1/posts/AAAAAAAAAAAAAAAA", headers=eve)
    delete = await client.delete(f"/api/v1/posts/{post['id']}", headers=eve)
    assert theirs.status_code == unknown.status_code == delete.status_code == 404
    assert theirs.json() == unknown.json()


async def test_a_post_of_pictures_alone_goes_out_with_them(client, ada, instance, worker) -> None:
    uploaded = await client.post(
        "/api/v1/media", files={"file": ("p.png", _png(), "image/png")}, headers=ada["headers"]
    )
    media = uploaded.json()
    post = await _post(client, ada, text="", media=[{"id": media["id"], "description": "Teal"}])
    assert post.status_code == 201, post.text
    await worker.run_due()
    (form,) = instance.posted
    assert form["media_ids[]"] == ["900"]
    assert form.get("status", [""]) == [""]
    (delivery,) = (await _get(client, ada, post.json()["id"]))["deliveries"]
    assert delivery["status"] == "sent" and delivery["remote_url"]
