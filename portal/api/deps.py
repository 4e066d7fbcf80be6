"""Who is asking, for the JSON API: a bearer token, or the browser's session and CSRF header."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from portal import csrf
from portal.deps import DB, SESSION_COOKIE, session_user
from portal.domain import account
from portal.errors import Forbidden, NotAuthenticated
from portal.storage.models import User

_bearer = HTTPBearer(auto_error=False, description="A personal access token.")


async def api_user(
    request: Request,
    db: DB,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if request.headers.get("authorization"):
        if credentials is None:
            raise NotAuthenticated("Send the token as 'Authorization: Bearer <token>'.")
        user = await account.user_for_token(db, credentials.credentials)
        if user is None:
            raise NotAuthenticated("This token is not valid; it may have been revoked or expired.")
        return user
    user = await session_user(request, db)
    if user is None:
        raise NotAuthenticated(
            "Sign in, or send a personal access token as 'Authorization: Bearer <token>'."
        )
    if request.method not in csrf.SAFE_METHODS:
        sent = request.headers.get(csrf.CSRF_HEADER, "")
        if not hmac.compare_digest(sent, csrf.csrf_token(request)):
            raise Forbidden("A request signed in by cookie needs the X-CSRF-Token header.")
    return user


ApiUser = Annotated[User, Depends(api_user)]


async def optional_api_user(request: Request, db: DB) -> User | None:
    """The person asking when they say who they are (a bad token is still an error), or
    ``None`` for an anonymous request. The token is read by hand: the OpenAPI document would
    otherwise call it required."""
    header = request.headers.get("authorization")
    if header is None:
        if request.cookies.get(SESSION_COOKIE) is None:
            return None
        return await session_user(request, db)  # reading needs no CSRF header
    scheme, _, token = header.partition(" ")
    credentials = None
    if scheme.lower() == "bearer" and token.strip():
        credentials = HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())
    return await api_user(request, db, credentials)


OptionalApiUser = Annotated[User | None, Depends(optional_api_user)]
