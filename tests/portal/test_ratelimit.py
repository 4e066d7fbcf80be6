"""Rate limits: sign-in guessing is throttled per address and per account."""

from __future__ import annotations

import uuid

import pytest

from portal.errors import RateLimited
from portal.ratelimit import RateLimiter
from tests.fixtures.app import api_sign_up


async def test_sign_in_guessing_is_throttled_with_retry_after(client):
    await api_sign_up(client)
    statuses = []
    for _ in range(12):
        response = await client.post(
            "/api/v1/tokens", json={"email": "ada@example.org", "password": "guess guess guess"}
        )
        statuses.append(response.status_code)
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    assert int(response.headers["retry-after"]) > 0
    assert "wait" in response.json()["detail"]


@pytest.mark.parametrize("storage", ["memory://", "redis://127.0.0.1:6379/0"])
async def test_limits_count_per_key(storage):
    limiter = RateLimiter(storage)
    key = uuid.uuid4().hex
    try:
        for _ in range(10):
            await limiter.hit("signin", key)
        with pytest.raises(RateLimited) as info:
            await limiter.hit("signin", key)
        assert 0 < info.value.retry_after <= 60
        await limiter.hit("signin", uuid.uuid4().hex)  # another key is unaffected
    finally:
        await limiter.close()


async def test_disabled_limiter_never_refuses():
    limiter = RateLimiter("memory://", enabled=False)
    for _ in range(100):
        await limiter.hit("signin", "same")
