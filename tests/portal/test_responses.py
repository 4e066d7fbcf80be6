"""A picture served by the portal can only ever be a picture, kept by the browser alone."""

from __future__ import annotations

from portal import responses


def test_a_picture_is_never_sniffed_nor_run_and_kept_privately() -> None:
    answer = responses.picture(b"GIF89a", "image/gif", max_age=60, x_robots_tag="noindex")
    assert answer.body == b"GIF89a"
    assert answer.headers["content-type"] == "image/gif"
    assert answer.headers["cache-control"] == "private, max-age=60"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert answer.headers["x-robots-tag"] == "noindex"
    kept = responses.picture(b"", "image/png", max_age=600, immutable=True)
    assert kept.headers["cache-control"] == "private, max-age=600, immutable"
    assert "x-robots-tag" not in kept.headers
