"""What a visitor has agreed to, read from the consent cookie (no database here).

The cookie holds `<policy version>:<analytics 0|1>:<record id>`. A cookie for another policy
version counts as no choice at all, so the banner asks again and nothing optional runs.
`Sec-GPC: 1` (Global Privacy Control) is a refusal of analytics whatever the cookie says.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

COOKIE_NAME = "kb_consent"
# Long enough not to nag, short enough to ask again within the year (CNIL recommends 6 months).
COOKIE_MAX_AGE_S = 182 * 24 * 3600
CATEGORIES = ("necessary", "analytics")
_VERSION = re.compile(r"^[A-Za-z0-9._-]{1,40}$")


@dataclass(frozen=True)
class Consent:
    current_version: str
    version: str | None = None
    analytics: bool = False
    record_id: str | None = None
    gpc: bool = False

    @property
    def decided(self) -> bool:
        """A choice was made under the current policy."""
        return self.version == self.current_version

    @property
    def analytics_allowed(self) -> bool:
        return self.decided and self.analytics and not self.gpc

    @property
    def needs_choice(self) -> bool:
        # With Global Privacy Control the only optional category is already refused: the banner
        # would ask a question the browser has answered, so it stays closed.
        return not self.decided and not self.gpc

    @property
    def choices(self) -> dict[str, bool]:
        return {"necessary": True, "analytics": self.analytics_allowed}


def cookie_value(*, version: str, analytics: bool, record_id: str) -> str:
    return f"{version}:{int(analytics)}:{record_id}"


def consent_parse(*, cookie: str | None, current_version: str, gpc: bool) -> Consent:
    if cookie:
        parts = cookie.rsplit(":", 2)
        if len(parts) == 3 and _VERSION.match(parts[0]) and parts[1] in {"0", "1"}:
            try:
                record_id = str(uuid.UUID(parts[2]))
            except ValueError:
                record_id = None
            if record_id:
                return Consent(
                    current_version=current_version,
                    version=parts[0],
                    analytics=parts[1] == "1",
                    record_id=record_id,
                    gpc=gpc,
                )
    return Consent(current_version=current_version, gpc=gpc)


def gpc_from_headers(headers) -> bool:
    return headers.get("Sec-GPC", "").strip() == "1"
