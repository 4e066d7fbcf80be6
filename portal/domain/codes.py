"""The answer to a typed code (a phone's, an email address's): right, or wrong with tries left."""

from __future__ import annotations

from dataclasses import dataclass

from portal.errors import N_, InvalidInput

WRONG_CODE = N_("This code is not right. %(left)d tries left.")
NO_TRIES_LEFT = N_("This code is not right, and no tries are left. Ask for a new code.")


@dataclass(frozen=True)
class CodeCheck:
    verified: bool
    left: int
    """Tries left for this code (0 once verified, or once the tries are used up)."""

    @property
    def error(self) -> InvalidInput | None:
        """Why the code was refused (shown, not raised: the wrong try must be kept)."""
        if self.verified:
            return None
        if self.left:
            return InvalidInput(WRONG_CODE, field="code", left=self.left)
        return InvalidInput(NO_TRIES_LEFT, field="code")
