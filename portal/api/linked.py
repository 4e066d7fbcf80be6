"""The networks, and my linked accounts."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import JSONResponse

from portal.api.deps import ApiUser
from portal.api.problems import refusal
from portal.api.schemas import (
    AuthorizeIn,
    AuthorizeOut,
    CodeIn,
    EmailCodeIn,
    LinkedAccountOut,
    LinkIn,
    LinkPatch,
    MailboxIn,
    MailboxOut,
    NetworkOut,
    errors,
)
from portal.db import write_next
from portal.deps import DB, LimiterDep, Services, calls_out
from portal.domain import linking, privacy
from portal.domain.linking import connections, mailbox, oauth, proofs
from portal.storage.models import LinkedAccount

_networks = APIRouter(tags=["networks"])
_accounts = APIRouter(tags=["linked accounts"])


def _out(account: LinkedAccount) -> LinkedAccountOut:
    return LinkedAccountOut.of(account, linking.describe(account))


@_networks.get("/networks", response_model=list[NetworkOut])
async def list_networks(services: Services) -> list[NetworkOut]:
    """Every network an account can be linked on, and what each can do."""
    return [
        NetworkOut(**{**asdict(n), "servers": [name for name, _ in n.servers]})
        for n in linking.networks(services)
    ]


@_accounts.get(
    "/me/accounts",
    response_model=list[LinkedAccountOut],
    responses=errors(401, 403),
)
async def list_accounts(db: DB, user: ApiUser) -> list[LinkedAccountOut]:
    """My linked accounts, in the order they are shown."""
    return [_out(account) for account in await linking.list_accounts(db, user)]


@_accounts.post(
    "/me/accounts",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(calls_out)],
    response_model=LinkedAccountOut,
    responses=errors(401, 403, 404, 409, 429, 502),
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
        await write_next(db)  # no other server is called: what follows writes at once
        account = await linking.add_handle(
            db, user, body.network, body.handle, context=services.context
        )
    return _out(account)


@_accounts.patch(
    "/me/accounts/{account_id}",
    response_model=LinkedAccountOut,
    responses=errors(401, 403, 404, 409, 429),
)
async def update_account(
    account_id: int,
    body: LinkPatch,
    db: DB,
    user: ApiUser,
    services: Services,
    limiter: LimiterDep,
) -> LinkedAccountOut:
    """Correct an account's handle, move it to another place in my list, or choose who sees
    it; fields left out stay as they are."""
    account = await linking.get_account(db, user, account_id)
    if body.handle is not None:
        await limiter.hit("profile", str(user.id))
        account = await linking.change_handle(
            db, user, account_id, body.handle, context=services.context
        )
    if body.audience is not None:
        account = await privacy.set_account_audience(db, user, account_id, body.audience)
    if body.position is not None:
        account = await linking.move(db, user, account_id, to=body.position)
    return _out(account)


@_accounts.delete(
    "/me/accounts/{account_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(calls_out)],
    responses=errors(401, 403, 404),
)
async def delete_account(account_id: int, db: DB, user: ApiUser, services: Services) -> Response:
    """Unlink an account; its tokens are revoked where the network allows."""
    await connections.remove_account(db, services, user, account_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@_accounts.post(
    "/me/accounts/{network}/authorize",
    dependencies=[Depends(calls_out)],
    response_model=AuthorizeOut,
    responses=errors(401, 403, 404, 409, 429, 502),
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


@_accounts.post(
    "/me/accounts/email/code",
    dependencies=[Depends(calls_out)],
    status_code=status.HTTP_202_ACCEPTED,
    response_model=LinkedAccountOut,
    responses=errors(401, 403, 429, 502),
)
async def send_email_code(
    body: EmailCodeIn, db: DB, user: ApiUser, services: Services, limiter: LimiterDep
) -> LinkedAccountOut:
    """Add an email address and mail it a one-time code."""
    await limiter.hit("email_code", str(user.id))
    return _out(await proofs.send_email_code(db, services, user, body.handle))


@_accounts.post(
    "/me/accounts/{account_id}/code",
    response_model=LinkedAccountOut,
    responses=errors(401, 403, 404),
)
async def confirm_email_code(
    request: Request, account_id: int, body: CodeIn, db: DB, user: ApiUser, services: Services
) -> LinkedAccountOut | JSONResponse:
    """Verify an email address with the code it received (five tries)."""
    check = await proofs.confirm_email_code(db, services, user, account_id, body.code)
    error = check.error
    if error is None:
        return _out(check.account)
    # Answered, not raised, so that the wrong try is committed and counts.
    return refusal(request, error)


@_accounts.post(
    "/me/accounts/{account_id}/check",
    dependencies=[Depends(calls_out)],
    response_model=LinkedAccountOut,
    responses=errors(401, 403, 404),
)
async def check_account(
    account_id: int, db: DB, user: ApiUser, services: Services
) -> LinkedAccountOut:
    """Check that a connection still works (its status says if it needs reconnecting)."""
    return _out(await connections.check_account(db, services, user, account_id))


@_accounts.post(
    "/me/accounts/{account_id}/verify-link",
    dependencies=[Depends(calls_out)],
    response_model=LinkedAccountOut,
    responses=errors(401, 403, 404, 429, 502),
)
async def verify_link(
    account_id: int, db: DB, user: ApiUser, services: Services, limiter: LimiterDep
) -> LinkedAccountOut:
    """Verify an account whose public page links back to my portal page with rel="me"."""
    await limiter.hit("link", str(user.id))
    return _out(await proofs.verify_by_link(db, services, user, account_id))


@_accounts.get(
    "/me/accounts/{account_id}/mailbox",
    dependencies=[Depends(calls_out)],
    response_model=MailboxOut,
    responses=errors(401, 403, 404, 429),
)
async def get_mailbox(
    account_id: int, db: DB, user: ApiUser, services: Services, limiter: LimiterDep
) -> MailboxOut:
    """The mailbox settings of an email address: those connected, else those its domain
    publishes (autoconfig), else guesses to check; never the password."""
    await limiter.hit("link", str(user.id))
    return MailboxOut.of(await mailbox.offer(db, services, user, account_id))


@_accounts.put(
    "/me/accounts/{account_id}/mailbox",
    dependencies=[Depends(calls_out)],
    response_model=LinkedAccountOut,
    responses=errors(401, 403, 404, 409, 422, 429),
)
async def put_mailbox(
    account_id: int,
    body: MailboxIn,
    db: DB,
    user: ApiUser,
    services: Services,
    limiter: LimiterDep,
) -> LinkedAccountOut:
    """Connect the mailbox of a verified email address: the login is checked on the IMAP
    and the SMTP server, then kept encrypted; a refusal (422) says what to change."""
    await limiter.hit("link", str(user.id))
    settings = body.settings()
    return _out(await mailbox.connect(db, services, user, account_id, settings, body.password))


@_accounts.delete(
    "/me/accounts/{account_id}/mailbox",
    response_model=LinkedAccountOut,
    responses=errors(401, 403, 404),
)
async def delete_mailbox(
    account_id: int, db: DB, user: ApiUser, services: Services
) -> LinkedAccountOut:
    """Disconnect the mailbox of an email address: its settings and password are forgotten,
    the address stays verified."""
    return _out(await mailbox.disconnect(db, services, user, account_id))


router = APIRouter(prefix="/api/v1")
router.include_router(_networks)
router.include_router(_accounts)
