"""Who is asking, for the HTML pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from portal.deps import DB, session_user
from portal.errors import NotAuthenticated
from portal.storage.models import User


async def optional_user(request: Request, db: DB) -> User | None:
    return await session_user(request, db)


async def required_user(request: Request, db: DB) -> User:
    user = await session_user(request, db)
    if user is None:
        raise NotAuthenticated("Please sign in to see this page.")
    return user


OptionalUser = Annotated[User | None, Depends(optional_user)]
CurrentUser = Annotated[User, Depends(required_user)]
