"""Build hook: the wheel carries the top-level ``templates/`` folder as ``portal/templates``.

Only the standard wheel does. An editable install reads ``templates/`` in the checkout (see
``portal.i18n.TEMPLATES_DIR``), and hatchling would put a ``force-include`` into editable wheels
too, where the copy in site-packages would only go stale.
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class TemplatesHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "standard":
            build_data["force_include"]["templates"] = "portal/templates"
