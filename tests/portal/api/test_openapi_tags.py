"""The API documentation groups every operation under one heading."""

from __future__ import annotations

from fastapi import FastAPI


def test_every_operation_has_exactly_one_tag(app: FastAPI) -> None:
    document = app.openapi()
    tags = {
        f"{method.upper()} {path}": operation.get("tags", [])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert tags
    assert {name: found for name, found in tags.items() if len(found) != 1} == {}
