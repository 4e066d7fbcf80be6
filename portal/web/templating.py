"""The one Jinja2 environment. An htmx request gets the fragment, any other the whole page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from portal import __version__, csrf, i18n
from portal.domain.number import display as display_number
from portal.web import feed_images, toast

TEMPLATES_DIR = i18n.TEMPLATES_DIR
STATIC_DIR = Path(__file__).resolve().parent / "static"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    extensions=["jinja2.ext.i18n"],
    undefined=StrictUndefined,
)
# Old-style gettext: ``{% trans %}`` blocks fill their placeholders themselves, with the
# request's catalog functions that ``render`` puts in the context.
_env.install_null_translations(newstyle=False)  # type: ignore[attr-defined]
templates = Jinja2Templates(env=_env)
templates.env.globals["version"] = __version__


def _language(context: Context) -> str:
    """The reader's language: the one ``render`` chose, else the request's."""
    language = context.get("lang")
    if isinstance(language, str) and language in i18n.LANGUAGES:
        return language
    request = context.get("request")
    return i18n.negotiate(request) if isinstance(request, Request) else i18n.DEFAULT


@pass_context
def _when(context: Context, when: datetime) -> Markup:
    """``<time>`` saying how long ago (or in how long) ``when`` is, its full date as title."""
    language = _language(context)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        i18n.aware(when).isoformat(),
        i18n.full_date(when, language),
        i18n.relative_time(when, language),
    )


@pass_context
def _decimal(context: Context, value: float) -> str:
    """A count as written in the reader's language: 12,345 · 12.345 · 12 345."""
    return i18n.number(value, _language(context))


@pass_context
def _day(context: Context, when: datetime) -> str:
    return i18n.day(when, _language(context))


templates.env.filters["number"] = display_number
templates.env.filters["day"] = _day
templates.env.filters["when"] = _when
templates.env.filters["decimal"] = _decimal
templates.env.filters["pictures"] = feed_images.pictures


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    page: str,
    context: dict[str, Any] | None = None,
    *,
    fragment: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render ``pages/<page>.html``, or ``partials/_<fragment>.html`` for an htmx request."""
    context = dict(context or {})
    context.setdefault("user", getattr(request.state, "user", None))
    # For the service worker (static/offline.js): someone signed in, nobody, or not looked at.
    looked = hasattr(request.state, "user")
    context.setdefault("session", "in" if context["user"] else "out" if looked else "unknown")
    for key, empty in (("errors", {}), ("values", {}), ("error", None), ("saved", False)):
        context.setdefault(key, empty)
    context["csrf_token"] = csrf.csrf_token(request)
    language = i18n.negotiate(request)
    catalog = i18n.translations(language)
    context.update(
        lang=language,
        languages=i18n.LANGUAGES,
        _=catalog.gettext,
        gettext=catalog.gettext,
        ngettext=catalog.ngettext,
    )
    # What the action before did: an htmx answer hands it to static/toasts.js in a header, a
    # page shows it in its live region (and is then not kept offline, where it would show again).
    toasts = toast.take(request, language)
    context["toasts"] = [] if is_htmx(request) else toasts
    name = f"partials/_{fragment}.html" if fragment and is_htmx(request) else f"pages/{page}.html"
    response = templates.TemplateResponse(
        request, name, context, status_code=status_code, headers=headers
    )
    toast.forget(request, response)
    if is_htmx(request):
        toast.trigger(response, toasts)
    elif toasts:
        response.headers["cache-control"] = "no-store"
    response.headers.setdefault("cache-control", "no-store")
    csrf.set_cookie_if_new(request, response)
    return response
