"""The served OpenAPI document, checked by Schemathesis: the operations that
``test_openapi.py`` leaves (contacts, feeds, posts, messages…), with its settings, against a
server of this module's own."""

from __future__ import annotations

import pytest
import schemathesis

from tests.portal.api.test_openapi import (  # noqa: F401 (fixtures, this module's own)
    OWN,
    _node_id_for_schemathesis,
    openapi_schema,
    openapi_server,
)

pytestmark = pytest.mark.slow

schema = schemathesis.pytest.from_fixture("openapi_schema")


@schema.exclude(path_regex=OWN).parametrize()
def test_the_other_operations_match_the_openapi_document(case: schemathesis.Case) -> None:
    case.call_and_validate(timeout=30)  # as generous as test_openapi.py's
