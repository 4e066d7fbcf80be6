"""Linking accounts to a number, and proving that they belong to its owner.

Callers use what this package exports (the account list and :class:`LinkServices`) and its
modules for the ways of proving an account: :mod:`.oauth` (OAuth 2, OpenID Connect, AT
Protocol OAuth), :mod:`.proofs` (signing in, a login widget, an emailed code, a rel="me"
link) and :mod:`.connections` (checking and ending a link).
"""

from portal.domain.linking.accounts import (
    MAX_ACCOUNTS,
    NEEDS_RECONNECT,
    REFRESH_MARGIN,
    UNVERIFIED,
    VERIFIED,
    NetworkInfo,
    add_handle,
    change_handle,
    check_handle_editable,
    describe,
    describe_handle,
    find_account,
    get_account,
    handle_editable,
    handle_to_edit,
    list_accounts,
    load_credentials,
    mark_needs_reconnect,
    mark_verified,
    move,
    network_info,
    networks,
    reorder,
    rotate_secrets,
    save_proven,
    store_credentials,
)
from portal.domain.linking.services import (
    LinkServices,
    NetworkUnavailable,
    connector,
    connector_errors,
    normalize,
)

__all__ = [
    "MAX_ACCOUNTS",
    "NEEDS_RECONNECT",
    "REFRESH_MARGIN",
    "UNVERIFIED",
    "VERIFIED",
    "LinkServices",
    "NetworkInfo",
    "NetworkUnavailable",
    "add_handle",
    "change_handle",
    "check_handle_editable",
    "connector",
    "connector_errors",
    "describe",
    "describe_handle",
    "find_account",
    "get_account",
    "handle_editable",
    "handle_to_edit",
    "list_accounts",
    "load_credentials",
    "mark_needs_reconnect",
    "mark_verified",
    "move",
    "network_info",
    "networks",
    "normalize",
    "reorder",
    "rotate_secrets",
    "save_proven",
    "store_credentials",
]
