"""Who may import whom: the table in CONTRIBUTING.md ("Packages and imports"), enforced.

Every import of every module counts, wherever it stands: at the top, inside a function, or
under ``if TYPE_CHECKING:``. Each module of ``portal/`` and ``connectors/`` belongs to one layer;
a module that fits no layer fails the test, so that a new one is placed in the table on purpose.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("portal", "connectors")

LAYERS: dict[str, tuple[str, ...]] = {
    "connectors": ("connectors",),
    "shared": (
        "portal",  # the package itself: its __version__
        "portal.errors",
        "portal.crypto",
        "portal.db",
        "portal.i18n",
        "portal.letters",
        "portal.logs",
        "portal.mail",
        "portal.net",
        "portal.ratelimit",
        "portal.sms",
        "portal.workers",
    ),
    "storage": ("portal.storage",),
    "domain": ("portal.domain",),
    "edge": (
        "portal.config",
        "portal.deps",
        "portal.csrf",
        "portal.middleware",
        "portal.responses",
        "portal.share_files",
    ),
    "web": ("portal.web",),
    "api": ("portal.api",),
    "entry": ("portal.app", "portal.cli"),
}
"""Each layer and the modules (or packages) it is made of."""

MAY_IMPORT: dict[str, frozenset[str]] = {
    "connectors": frozenset({"connectors"}),
    "shared": frozenset({"shared", "connectors"}),
    "storage": frozenset({"storage", "shared"}),
    "domain": frozenset({"domain", "storage", "shared", "connectors"}),
    "edge": frozenset({"edge", "domain", "storage", "shared", "connectors"}),
    "web": frozenset({"web", "edge", "domain", "storage", "shared", "connectors"}),
    "api": frozenset({"api", "edge", "domain", "storage", "shared", "connectors"}),
    "entry": frozenset(LAYERS),
}
"""The layers each layer may import from (its own included)."""

NOT_LIBRARIES: dict[str, frozenset[str]] = {
    "connectors": frozenset({"fastapi", "starlette", "jinja2", "sqlalchemy"}),
    "storage": frozenset({"fastapi", "starlette", "jinja2"}),
    "domain": frozenset({"fastapi", "starlette", "jinja2", "markupsafe"}),
    # Routes run no queries: the session they hold comes from portal.deps.
    "web": frozenset({"sqlalchemy"}),
    "api": frozenset({"sqlalchemy"}),
}
"""Libraries a layer must not import: the web framework and templates stay out of the rules,
and SQL stays out of the routes."""

EXCEPTIONS: dict[tuple[str, str], str] = {}
"""Known breaches, each named with why it is still there. Empty is the goal."""


@dataclass(frozen=True)
class Breach:
    module: str
    imported: str
    line: int
    why: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported}: {self.why}"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package(module: str) -> bool:
    return (ROOT / Path(*module.split(".")) / "__init__.py").exists()


def _is_module(module: str) -> bool:
    path = ROOT / Path(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imports_of(source: str, module: str) -> list[tuple[str, int]]:
    """Every module ``source`` (the text of ``module``) imports, with the line it does so.

    ``from a import b`` counts as importing ``a.b`` when that is a module, else ``a``.
    """
    found: list[tuple[str, int]] = []
    package = module if _is_package(module) else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                parent = ".".join(base + ([node.module] if node.module else []))
            else:
                parent = node.module or ""
            for alias in node.names:
                child = f"{parent}.{alias.name}"
                found.append((child if _is_module(child) else parent, node.lineno))
    return found


def layer_of(module: str) -> str | None:
    """The layer of a module of ours, by its longest listed prefix; ``None`` if none."""
    best: tuple[int, str] | None = None
    for layer, prefixes in LAYERS.items():
        for prefix in prefixes:
            inside = prefix != "portal" and module.startswith(prefix + ".")
            if (module == prefix or inside) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), layer)
    return best[1] if best else None


def check(module: str, source: str) -> list[Breach]:
    """The imports of ``module`` that the table forbids."""
    layer = layer_of(module)
    if layer is None:
        return [Breach(module, "-", 0, "this module is in no layer; add it to LAYERS")]
    breaches = []
    for imported, line in imports_of(source, module):
        top = imported.split(".")[0]
        if top in PACKAGES:
            target = layer_of(imported)
            if target is None:
                why = "it is in no layer"
            elif target not in MAY_IMPORT[layer]:
                why = f"{layer} may not import {target}"
            else:
                continue
        elif top in NOT_LIBRARIES.get(layer, ()):
            why = f"{layer} may not import {top}"
        else:
            continue
        if (module, imported) not in EXCEPTIONS:
            breaches.append(Breach(module, imported, line, why))
    return breaches


def _sources() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def test_every_import_follows_the_table() -> None:
    breaches = [
        str(breach)
        for path in _sources()
        for breach in check(module_name(path), path.read_text(encoding="utf-8"))
    ]
    assert breaches == []


def test_exceptions_are_still_needed() -> None:
    """A breach that was fixed leaves the exceptions, so that it cannot come back unseen."""
    used = {
        (module_name(path), imported)
        for path in _sources()
        for imported, _ in imports_of(path.read_text(encoding="utf-8"), module_name(path))
    }
    assert [pair for pair in EXCEPTIONS if pair not in used] == []


FORBIDDEN = [
    ("portal.domain.sample", "from portal.web import csrf", "domain may not import web"),
    ("portal.domain.sample", "from portal.config import Settings", "domain may not import edge"),
    ("portal.domain.sample", "import fastapi", "domain may not import fastapi"),
    ("portal.domain.sample", "from jinja2 import Environment", "domain may not import jinja2"),
    ("portal.storage.sample", "from portal.domain import account", "storage may not import domain"),
    ("portal.storage.sample", "from portal.config import Settings", "storage may not import edge"),
    ("portal.api.sample", "from portal.web.share import router", "api may not import web"),
    ("portal.web.sample", "from portal.api import schemas", "web may not import api"),
    ("portal.web.sample", "from sqlalchemy import select", "web may not import sqlalchemy"),
    ("portal.deps", "from portal.web import forms", "edge may not import web"),
    ("connectors.sample", "from portal.errors import InvalidInput", "connectors may not import"),
    ("portal.domain.sample", "from ..web import csrf", "domain may not import web"),
    ("portal.domain.sample", "from . import account\nfrom .. import app", "domain may not import"),
]


@pytest.mark.parametrize(("module", "source", "why"), FORBIDDEN)
def test_a_forbidden_import_is_reported(module: str, source: str, why: str) -> None:
    breaches = check(module, source)
    assert [breach.why for breach in breaches if breach.why.startswith(why)], breaches


def test_imports_inside_functions_and_type_checking_count() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from portal.config import Settings\n"
        "def later() -> None:\n"
        "    import portal.api.schemas\n"
    )
    found = {(breach.imported, breach.line) for breach in check("portal.domain.sample", source)}
    assert found == {("portal.config", 3), ("portal.api.schemas", 5)}


def test_allowed_imports_are_not_reported() -> None:
    source = (
        "from portal.domain import privacy\n"
        "from portal.storage.models import User\n"
        "from portal import mail\n"
        "from portal.errors import InvalidInput\n"
        "import connectors\n"
        "from sqlalchemy import select\n"
    )
    assert check("portal.domain.sample", source) == []


def test_a_module_in_no_layer_is_reported() -> None:
    assert check("portal.newthing", "import os\n")[0].why.startswith("this module is in no layer")
