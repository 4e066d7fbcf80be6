"""Every way into the application that takes a portal number: a "door".

Each door is a lookup: it is counted against the client and the account (a miss costing
more), and a number nobody has, a hidden one, and one that is not in the relation the door
is about all answer the same. ``tests/portal/test_lookup.py`` walks every door, and the
privacy matrix's guard checks that every route taking a number is one of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel

Among = Literal["anyone", "relation"]
"""``anyone``: whoever the viewer may look up (a visible stranger is found); ``relation``:
only people the viewer has that relation with (a visible stranger is a miss)."""


@dataclass(frozen=True)
class Door:
    method: str
    route: str
    """The route as the application declares it."""
    among: Among
    action: str = ""
    """What fills ``{action}`` in the route, for the contact buttons."""
    json: dict[str, Any] | None = None
    form: dict[str, str] = field(default_factory=dict)
    number_in: Literal["path", "json", "form", "query"] = "path"
    number_name: str = "number"
    """The field or parameter that holds the number, where it is not in the path."""

    @property
    def web(self) -> bool:
        return not self.route.startswith("/api/")

    @property
    def name(self) -> str:
        return f"{self.method} {self.route.replace('{action}', self.action)}"

    async def call(self, http: httpx.AsyncClient, number: str, csrf: str) -> httpx.Response:
        """Knock on the door with ``number``, as a browser or an API client would."""
        path = self.route.replace("{action}", self.action).replace("{number}", number)
        headers = {"accept": "text/html"} if self.web else {"x-csrf-token": csrf}
        if self.method == "GET":
            query = {self.number_name: number} if self.number_in == "query" else None
            return await http.get(path, params=query, headers=headers)
        json = dict(self.json) if self.json is not None else None
        if self.number_in == "json":
            json = {**(json or {}), self.number_name: number}
        if self.web:
            form = {"csrf_token": csrf, **self.form}
            if self.number_in == "form":
                form[self.number_name] = number
            return await http.request(self.method, path, data=form, headers=headers)
        return await http.request(self.method, path, json=json, headers=headers)


_LOOKUPS = (
    "/n/{number}",
    "/n/{number}/avatar",
    "/n/{number}/qr.svg",
    "/n/{number}/qr.png",
    "/n/{number}/vcard",
    "/embed/{number}",
    "/embed/{number}.js",
    "/api/v1/numbers/{number}",
    "/api/v1/numbers/{number}/qr.svg",
    "/api/v1/numbers/{number}/qr.png",
    "/api/v1/numbers/{number}/vcard",
    "/me/contacts/{number}/actions",
)

_ACTIONS: dict[str, Among] = {
    "request": "anyone",
    "cancel": "relation",
    "accept": "relation",
    "decline": "relation",
    "remove": "relation",
    "block": "anyone",
    "unblock": "relation",
}

DOORS: tuple[Door, ...] = (
    *(Door("GET", route, "anyone") for route in _LOOKUPS),
    Door("POST", "/api/v1/contacts", "anyone", json={"message": ""}, number_in="json"),
    Door("POST", "/api/v1/contacts/{number}/accept", "relation"),
    Door("POST", "/api/v1/contacts/{number}/decline", "relation"),
    Door("POST", "/api/v1/contacts/{number}/block", "anyone"),
    Door("DELETE", "/api/v1/contacts/{number}/block", "relation"),
    Door("DELETE", "/api/v1/contacts/{number}", "relation"),
    Door("PUT", "/api/v1/contacts/{number}/tags", "relation", json={"tags": ["Chess"]}),
    Door("POST", "/api/v1/follows", "anyone", json={}, number_in="json"),
    Door("DELETE", "/api/v1/follows/{number}", "relation"),
    Door("POST", "/me/follows/{number}", "anyone"),
    Door("POST", "/me/follows/{number}/remove", "relation"),
    Door("POST", "/me/contacts", "anyone", number_in="form"),
    Door("POST", "/me/contacts/{number}/tags", "relation", form={"tag": "Chess"}),
    Door("POST", "/me/contacts/{number}/tags/remove", "relation", form={"tag": "Chess"}),
    *(
        Door("POST", "/me/contacts/{number}/{action}", among, action=action)
        for action, among in _ACTIONS.items()
    ),
    # Writing to a person: whoever may see them is told whether they take messages from
    # them; a number unknown or hidden is not found.
    Door(
        "POST",
        "/api/v1/messages",
        "anyone",
        json={"text": "Hi"},
        number_in="json",
        number_name="to",
    ),
    Door("GET", "/messages/new", "anyone", number_in="query", number_name="to"),
    Door("POST", "/messages", "anyone", form={"text": "Hi"}, number_in="form", number_name="to"),
    # A conversation: with someone one never wrote with, the number is looked up.
    Door("GET", "/api/v1/conversations/{number}", "anyone"),
    Door("GET", "/conversations/{number}", "anyone"),
    # A message request: only someone whose messages wait for one's answer.
    *(
        door
        for action in ("accept", "decline")
        for door in (
            Door("POST", f"/api/v1/conversations/{{number}}/{action}", "relation"),
            Door("POST", "/conversations/{number}/{action}", "relation", action=action),
        )
    ),
)

NOT_DOORS = {
    ("GET", "/lookup"): "reads the number box and redirects to the number's page; finds nobody",
    ("GET", "/api/v1/feed"): (
        "narrows one's own feed to a person one follows; a number unknown, hidden or not "
        "followed gives the same empty page (tests/portal/domain/feeds/test_read.py)"
    ),
    ("POST", "/api/v1/feed/read"): "marks one's own feed read, narrowed as GET /api/v1/feed is",
    ("GET", "/feed"): "the page of GET /api/v1/feed, narrowed the same way",
    ("GET", "/feed/stream"): "counts the new entries of one's own feed, narrowed the same way",
    ("POST", "/feed/read"): "the page's form of POST /api/v1/feed/read",
}


NUMBER_NAMES = frozenset({"number", "to"})
"""What a parameter or a field that holds a portal number is called (``to``: a message's)."""


def _takes_a_number(route: APIRoute) -> bool:
    if "{number}" in route.path:
        return True
    dependant = route.dependant
    params = [*dependant.query_params, *dependant.body_params]
    for dependency in dependant.dependencies:
        params += [*dependency.query_params, *dependency.body_params]
    for param in params:
        if param.name in NUMBER_NAMES:
            return True
        annotation = param.field_info.annotation
        if (
            isinstance(annotation, type)
            and issubclass(annotation, BaseModel)
            and NUMBER_NAMES & set(annotation.model_fields)
        ):
            return True
    return False


def all_routes(routes: list[Any], prefix: str = "") -> Iterator[APIRoute]:
    """Every route of the application, inside included routers too, with its whole path."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from all_routes(
                route.original_router.routes, prefix + route.include_context.prefix
            )
        elif isinstance(route, APIRoute):
            yield route if not prefix else _prefixed(route, prefix)


def _prefixed(route: APIRoute, prefix: str) -> APIRoute:
    copy = APIRoute.__new__(APIRoute)
    copy.__dict__.update(route.__dict__)
    copy.path = prefix + route.path
    return copy


def routes_taking_a_number(app: FastAPI) -> set[tuple[str, str]]:
    """(method, route) of every route of the application that takes a portal number, in its
    path, its query, its form or its JSON body."""
    return {
        (method, route.path)
        for route in all_routes(app.routes)
        if _takes_a_number(route)
        for method in route.methods or ()
        if method != "HEAD"
    }
