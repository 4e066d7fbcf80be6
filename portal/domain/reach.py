"""How a person wants to be reached through Portal: who may message them, and on which of
their messengers, in which order ("Matrix first, then email, then Telegram").

The recipient decides. Who may write at all is one setting (:data:`MESSAGES_FROM`); the
channels are the person's linked accounts on networks where people write to each other
(``connectors.base.Connector.MESSENGER``), each on or off, the ones on in the person's order.
A sender is offered only the channels they may see through the privacy gate
(``portal.domain.privacy``): a channel the card does not show them is not theirs to use, and
a person who blocked them, or hides their number, has no channels for them at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors import get as connector_class
from portal.domain import privacy
from portal.errors import N_, InvalidInput
from portal.storage.models import LinkedAccount, User

CONTACTS, MEMBERS, NOBODY = "contacts", "members", "nobody"
MESSAGES_FROM = (CONTACTS, MEMBERS, NOBODY)
"""Who may message a person: their mutual contacts, any signed-in member (whose first
message is a request), or nobody."""
_MAY_WRITE: dict[str, frozenset[privacy.Relation]] = {
    CONTACTS: frozenset({privacy.Relation.CONTACT}),
    MEMBERS: frozenset({privacy.Relation.CONTACT, privacy.Relation.MEMBER}),
    NOBODY: frozenset(),
}
MAX_CHANNELS = 100
"""More than anyone links: a longer list sent is refused before it is read."""


@dataclass(frozen=True, slots=True)
class Channel:
    """One of the person's messengers, as they set it."""

    account: LinkedAccount
    rank: int | None
    """Its place among the channels on (1 first); ``None`` when off."""

    @property
    def on(self) -> bool:
        return self.rank is not None


def is_messenger(network: str) -> bool:
    found = connector_class(network)
    return found is not None and found.MESSENGER


def order(accounts: Sequence[LinkedAccount]) -> list[Channel]:
    """The messenger accounts among ``accounts``: those on in the owner's order (the ranked
    ones by rank, then the others in the card's order), then those off."""
    messengers = [account for account in accounts if is_messenger(account.network)]
    on = sorted(
        (account for account in messengers if not account.reach_off),
        key=lambda a: (a.reach_rank is None, a.reach_rank or 0, a.position, a.id),
    )
    off = sorted(
        (account for account in messengers if account.reach_off), key=lambda a: (a.position, a.id)
    )
    return [Channel(account, rank) for rank, account in enumerate(on, start=1)] + [
        Channel(account, None) for account in off
    ]


async def channels_of(session: AsyncSession, user: User) -> list[Channel]:
    """The person's own messengers, as :func:`order` lists them (one query)."""
    accounts = await session.scalars(select(LinkedAccount).where(LinkedAccount.user_id == user.id))
    return order(list(accounts))


async def set_reach(
    session: AsyncSession,
    user: User,
    *,
    messages_from: str | None = None,
    channels: Sequence[int] | None = None,
) -> list[Channel]:
    """Who may message the person, and the ids of the accounts to be messaged on, first
    first (the person's messengers left out are off); what is not given stays."""
    if messages_from is not None:
        if messages_from not in MESSAGES_FROM:
            raise InvalidInput(
                N_("Choose who may message you: contacts, members or nobody."),
                field="messages_from",
            )
        user.messages_from = messages_from
    mine = await channels_of(session, user)
    if channels is not None:
        by_id = {channel.account.id: channel.account for channel in mine}
        if len(channels) > MAX_CHANNELS or len(set(channels)) != len(channels):
            raise InvalidInput(N_("Name each of your messengers once."), field="channels")
        if any(account_id not in by_id for account_id in channels):
            raise InvalidInput(
                N_("One of these is not a messenger account of yours."), field="channels"
            )
        ranks = {account_id: rank for rank, account_id in enumerate(channels, start=1)}
        for account_id, account in by_id.items():
            account.reach_rank = ranks.get(account_id)
            account.reach_off = account_id not in ranks
        mine = order(list(by_id.values()))
    await session.flush()
    return mine


def may_write(recipient: User, relation: privacy.Relation) -> bool:
    """Whether someone who is ``relation`` to the recipient may message them at all."""
    return relation in _MAY_WRITE.get(recipient.messages_from, frozenset())


def open_to(card: privacy.Card, channels: Sequence[Channel]) -> list[Channel]:
    """The recipient's channels on, that the viewer of ``card`` sees on it (the privacy
    gate), in the recipient's order."""
    shown = {account.id for account in card.accounts}
    return [channel for channel in channels if channel.on and channel.account.id in shown]
