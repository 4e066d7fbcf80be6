"""Connectors to other networks, behind one interface (:mod:`connectors.base`).

Every module of this package (but ``base`` and private ``_*`` ones) is read once, and each
:class:`~connectors.base.Connector` subclass it defines (itself, or a network's package in
one of its private modules) with a ``NAME`` of its own joins the registry: adding a network
is adding one module, or one package. This package never imports ``portal``.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from connectors.base import Connector

__all__ = ["Connector", "get", "registry"]


@cache
def registry() -> dict[str, type[Connector]]:
    """Every network, ``NAME → class``, in the order of their labels."""
    found: dict[str, type[Connector]] = {}
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name == "base" or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Connector)
                and "NAME" in vars(value)
                and value.__module__.partition("._")[0] == module.__name__
            ):
                if value.NAME in found:
                    raise RuntimeError(f"two connectors are named {value.NAME!r}")
                found[value.NAME] = value
    return dict(sorted(found.items(), key=lambda item: item[1].LABEL.casefold()))


def get(name: str) -> type[Connector] | None:
    """The connector called ``name``, or ``None``."""
    return registry().get(name)
