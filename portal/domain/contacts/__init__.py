"""Mutual contacts: requests and their answers, blocks, tags and the contact list
(invitations: :mod:`portal.domain.invites`).

A mutual contact is always two rows, ``a→b`` and ``b→a``, made by :func:`connect` and removed
together. Whatever is shown of a person comes from their card (:mod:`portal.domain.privacy`).
Someone blocked learns nothing from the block: a request to the person who blocked them is
answered as one to anybody else (pending), and the person who blocked them never sees it.

Every action on a person names them by number, and finds them with
:func:`portal.domain.relations.person_in`: in the relation the action is about (a contact, a
request, a block), or anyone the viewer may look up. Whatever the reason nobody is found
(nobody has the number, its owner hides it, or they are not in that relation) the answer is
the same.

One module a job: :mod:`.requests` (asking, answering, the two rows of a contact),
:mod:`.blocking` (ending a contact, blocking), :mod:`.tags` and :mod:`.listing` (the contact
list, paged in SQL). Who is who to a viewer is :mod:`portal.domain.relations`.
"""

from portal.domain import relations
from portal.domain.contacts.blocking import (
    Blocked,
    block,
    blocks,
    remove,
    remove_or_cancel,
    unblock,
)
from portal.domain.contacts.listing import (
    PER_PAGE,
    SORTS,
    ContactPage,
    Entry,
    Sort,
    entry,
    list_contacts,
)
from portal.domain.contacts.requests import (
    MAX_MESSAGE,
    MAX_PENDING,
    NO_REQUEST,
    NOT_A_CONTACT,
    PendingRequest,
    Sent,
    accept,
    cancel,
    clean_message,
    connect,
    decline,
    pending_requests,
    request,
)
from portal.domain.contacts.tags import MAX_TAG, MAX_TAGS, add_tag, clean_tag, remove_tag, set_tags

# Where people find them here still: deps.person_named, invites.
Among = relations.Among
is_blocked = relations.is_blocked

__all__ = [
    "MAX_MESSAGE",
    "MAX_PENDING",
    "MAX_TAG",
    "MAX_TAGS",
    "NOT_A_CONTACT",
    "NO_REQUEST",
    "PER_PAGE",
    "SORTS",
    "Among",
    "Blocked",
    "ContactPage",
    "Entry",
    "PendingRequest",
    "Sent",
    "Sort",
    "accept",
    "add_tag",
    "block",
    "blocks",
    "cancel",
    "clean_message",
    "clean_tag",
    "connect",
    "decline",
    "entry",
    "is_blocked",
    "list_contacts",
    "pending_requests",
    "remove",
    "remove_or_cancel",
    "remove_tag",
    "request",
    "set_tags",
    "unblock",
]
