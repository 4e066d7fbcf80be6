"""The networks, and my linked accounts."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse

from portal.api.deps import ApiUser
from portal.api.schemas import (
    AuthorizeIn,
    AuthorizeOut,
    CodeIn,
    EmailCodeIn,
    LinkedAccountOut,
    LinkIn,
    LinkPatch,
    NetworkOut,
    errors,
)
from portal.deps import DB, LimiterDep, Services
from portal.domain import connections, linking, oauth, privacy, proofs
from portal.storage.models import LinkedAccount

router = APIRouter(prefix="/api/v1")


def _out(account: LinkedAccount) -> LinkedAccountOut:
    return LinkedAccountOut.of(account, linking.describe(account))


@router.get("/networks", response_model=list[NetworkOut], tags=["networks"])
async def list_networks(services: Services) -> list[NetworkOut]:
    """Every network an account can be linked on, and what each can do."""
    return [
        NetworkOut(**{**asdict(n), "servers": [name for name, _ in n.servers]})
        for n in linking.networks(services)
    ]


@router.get(
    "/me/accounts",
    response_model=list[LinkedAccountOut],
    responses=errors(401, 403),
    tags=["linked accounts"],
)
async def list_accounts(db: DB, user: ApiUser) -> list[LinkedAccountOut]:
    """My linked accounts, in the order they are shown."""
    return [_out(account) for account in await linking.list_accounts(db, user)]


@router.post(
    "/me/accounts",
    status_code=status.HTTP_201_CREATED,
    response_model=LinkedAccountOut,
    responses=errors(401, 403, 404, 409, 429, 502),
    tags=["linked accounts"],
)
async def add_account(
    body: LinkIn, db: DB, user: ApiUser, services: Services, limiter: LimiterDep
) -> LinkedAccountOut:
    """Link an account without OAuth: by its handle (unverified), or by signing in to it."""
    await limiter.hit("link", str(user.id))
    if body.password is not None:
        account = await proofs.link_by_sign_in(
            db, services, user, body.network, body.handle, body.password
        )
    else:
        account = await linking.add_handle(db, user, body.network, body.handle)
    return _out(account)


@router.patch(
    "/me/accounts/{account_id}",
    response_model=LinkedAccountOut,
    responses=errors(401, 403, 404),
    tags=["linked accounts"],
)
async def update_account(
    account_id: int, body: LinkPatch, db: DB, user: ApiUser
) -> LinkedAccountOut:
    """Move an account to another place in my list, or choose who sees it; fields left out
    stay as they are."""
    account = await linking.get_account(db, user, account_id)
    if body.audience is not None:
        account = await privacy.set_account_audience(db, user, account_id, body.audience)
    if body.position is not None:
        account = await linking.move(db, user, account_id, to=body.position)
    return _out(account)


@router.delete(
    "/me/accounts/{account_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404),
    tags=["linked accounts"],
)
async def delete_account(account_id: int, db: DB, user: ApiUser, services: Services) -> Response:
    """Unlink an account; its tokens are revoked where the network allows."""
    await connections.remove_account(db, services, user, account_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/me/accounts/{network}/authorize",
    response_model=AuthorizeOut,
    responses=errors(401, 403, 404, 409, 429, 502),
    tags=["linked accounts"],
)
async def authorize(
    network: str,
    body: AuthorizeIn,
    db: DB,
    user: ApiUser,
    services: Services,
    limiter: LimiterDep,
) -> AuthorizeOut:
    """Start an OAuth link: the answer is the address to open in a browser."""
    await limiter.hit("link", str(user.id))
    return AuthorizeOut(url=await oauth.start(db, services, user, network, body.server))


@router.post(
    "/me/accounts/email/code",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=LinkedAccountOut,
    responses=errors(401, 403, 429, 502),
    tags=["linked accounts"],
)
async def send_email_code(
    body: EmailCodeIn, db: DB, user: ApiUser, services: Services, limiter: LimiterDep
) -> LinkedAccountOut:
    """Add an email address and mail it a one-time code."""
    await limiter.hit("email_code", str(user.id))
    return _out(await proofs.send_email_code(db, services, user, body.handle))


@router.post(
    "/me/accounts/{account_id}/code",
    response_model=LinkedAccountOut,
    responses=errors(401, 403, 404),
    tags=["linked accounts"],
)
async def confirm_email_code(
    account_id: int, body: CodeIn, db: DB, user: ApiUser, services: Services
) -> LinkedAccountOut | JSONResponse:
    """Verify an email address with the code it received (five tries)."""
    check = await proofs.confirm_email_code(db, services, user, account_id, body.code)
    if check.verified:
        return _out(check.account)
    # Answered, not raised, so that the wrong try is committed and counts.
    return JSONResponse(
        {
            "type": "about:blank",
            "title": "Invalid input",
            "status": 422,
            "detail": check.message,
            "field": "code",
        },
        status_code=422,
        media_type="application/problem+json",
    )


@router.post(
    "/me/accounts/{account_id}/check",
    response_model=LinkedAccountOut,
    responses=errors(401, 403, 404),
    tags=["linked accounts"],
)
async def check_account(
    account_id: int, db: DB, user: ApiUser, services: Services
) -> LinkedAccountOut:
    """Check that a connection still works (its status says if it needs reconnecting)."""
    return _out(await connections.check_account(db, services, user, account_id))


@router.post(
    "/me/accounts/{account_id}/verify-link",
    response_model=LinkedAccountOut,
    responses=errors(401, 403, 404, 429, 502),
    tags=["linked accounts"],
)
async def verify_link(
    account_id: int, db: DB, user: ApiUser, services: Services, limiter: LimiterDep
) -> LinkedAccountOut:
    """Verify an account whose public page links back to my portal page with rel="me"."""
    await limiter.hit("link", str(user.id))
    return _out(await proofs.verify_by_link(db, services, user, account_id))
