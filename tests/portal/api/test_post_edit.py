"""Changing the text of a post that went out: on Mastodon (faked at the HTTP layer with the
documented shapes) the status is edited in place; a thread stays as it was, and says so."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.domain import jobs
from tests.fixtures.publishing import Instance, post_worker, publisher


@pytest.fixture
async def ada(db: AsyncSession, app: FastAPI) -> dict[str, Any]:
    return await publisher(db, app)


@pytest.fixture
def worker(app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]) -> jobs.Worker:
    return post_worker(app, sessionmaker)


async def _published(
    client: httpx.AsyncClient, ada: dict[str, Any], worker: jobs.Worker, text: str
) -> str:
    created = await client.post(
        "/api/v1/posts",
        json={"text": text, "targets": [{"account_id": ada["account"]}]},
        headers=ada["headers"],
    )
    assert created.status_code == 201, created.text
    await worker.run_due()
    post_id: str = created.json()["id"]
    return post_id


async def _change(
    client: httpx.AsyncClient, ada: dict[str, Any], post_id: str, **body: str
) -> httpx.Response:
    return await client.patch(f"/api/v1/posts/{post_id}", json=body, headers=ada["headers"])


async def test_a_mastodon_status_is_edited_in_place(
    client: httpx.AsyncClient, ada: dict[str, Any], instance: Instance, worker: jobs.Worker
) -> None:
    post_id = await _published(client, ada, worker, "Tea at five?")

    changed = await _change(client, ada, post_id, text="Tea at six?", content_warning="tea")
    assert changed.status_code == 200, changed.text
    assert changed.json()["text"] == "Tea at six?"
    assert changed.json()["deliveries"][0]["status"] == "editing"
    assert await worker.run_due() == 1

    assert instance.edits == [{"status": ["Tea at six?"], "spoiler_text": ["tea"]}]
    after = await client.get(f"/api/v1/posts/{post_id}", headers=ada["headers"])
    (delivery,) = after.json()["deliveries"]
    assert (delivery["status"], delivery["error"]) == ("sent", "")
    assert len(instance.posted) == 1  # changed, not posted again


async def test_a_refused_edit_leaves_the_copy_sent_and_says_why(
    client: httpx.AsyncClient, ada: dict[str, Any], instance: Instance, worker: jobs.Worker
) -> None:
    post_id = await _published(client, ada, worker, "Tea at five?")
    instance.edit_failure = httpx.Response(422, json={"error": "Validation failed: Text too long"})

    await _change(client, ada, post_id, text="Tea at six?")
    await worker.run_due()

    after = await client.get(f"/api/v1/posts/{post_id}", headers=ada["headers"])
    (delivery,) = after.json()["deliveries"]
    assert delivery["status"] == "sent"
    assert delivery["error"].startswith("Not changed on Mastodon:")
    assert "Text too long" in delivery["error"]


async def test_a_thread_stays_as_it_went_out(
    client: httpx.AsyncClient, ada: dict[str, Any], instance: Instance, worker: jobs.Worker
) -> None:
    post_id = await _published(client, ada, worker, " ".join(f"word{n}" for n in range(150)))

    changed = await _change(client, ada, post_id, text="Short now")

    (delivery,) = changed.json()["deliveries"]
    assert delivery["status"] == "sent"
    assert "went out as a thread" in delivery["error"]
    assert await worker.run_due() == 0
    assert instance.edits == []


async def test_only_a_post_that_went_out_is_changed_this_way(
    client: httpx.AsyncClient, ada: dict[str, Any], instance: Instance
) -> None:
    created = await client.post(
        "/api/v1/posts",
        json={"text": "Later", "targets": [{"account_id": ada["account"]}], "draft": True},
        headers=ada["headers"],
    )
    changed = await _change(client, ada, created.json()["id"], text="Sooner")

    assert changed.status_code == 422
    assert "changed in its form" in changed.json()["detail"]


@pytest.mark.parametrize("text", ["", "   "])
async def test_an_empty_text_is_refused(
    client: httpx.AsyncClient,
    ada: dict[str, Any],
    instance: Instance,
    worker: jobs.Worker,
    text: str,
) -> None:
    post_id = await _published(client, ada, worker, "Tea at five?")

    changed = await _change(client, ada, post_id, text=text)

    assert changed.status_code == 422
    assert changed.json()["detail"] == "Write something or add a picture."
