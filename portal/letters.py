"""The emails Portal writes to people, in their language (English, Italian or French).

A letter is a template in ``templates/mail/<kind>.txt``: its first line is the subject, the rest
the plain-text body. Its sentences are in the same catalogs as the pages' (``portal.i18n``).
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from portal import i18n

# Plain text: nothing is escaped, and nothing a stranger typed is put in a letter, but for the
# digest, which quotes the titles of entries of feeds the reader chose (never their links: the
# digest's links lead to the portal).
_env = Environment(
    loader=FileSystemLoader(i18n.TEMPLATES_DIR),
    autoescape=False,  # noqa: S701 - text/plain mail, not HTML
    extensions=["jinja2.ext.i18n"],
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def write(kind: str, language: str, **context: Any) -> tuple[str, str]:
    """The subject and the body of the letter ``kind`` in ``language``."""
    if language not in i18n.LANGUAGES:
        language = i18n.DEFAULT
    catalog = i18n.translations(language)
    template = _env.get_template(f"mail/{kind}.txt")
    text = template.render(
        _=catalog.gettext, gettext=catalog.gettext, ngettext=catalog.ngettext, **context
    )
    subject, _, body = text.lstrip("\n").partition("\n")
    return subject.strip(), body.strip("\n") + "\n"
