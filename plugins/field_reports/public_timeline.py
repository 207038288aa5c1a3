"""What the public may read of an incident's timeline: one rule for the tracking page and for
Open311 (its request updates and `status_notes`).

Only events marked public, and only words the city chose to publish: a public comment and the
public note. A status change is told by its new status: the note staff give with it is a
working note. Never who did it, and never the citizen's own text (a rating comment, a reopen
reason): the citizen wrote it to the city, not to everyone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from field_reports.intake import ACTOR
from ioc_core.i18n import gettext, local_time
from ioc_core.incidents.workflow import status_label


@dataclass(frozen=True)
class Told:
    """An event as the public reads it: what happened, and the city's words about it."""

    text: str
    detail: str = ""


def told(event: Mapping[str, Any]) -> Told | None:
    """A public event told in the reader's language; None for what the public is not told."""
    after = event["after"] if isinstance(event["after"], dict) else {}
    kind = event["kind"]
    if kind == "created":
        return Told(gettext("Report received"))
    if kind == "status" and after.get("status"):
        return Told(gettext("Status: %(status)s") % {"status": status_label(after["status"])})
    if kind == "commented" and event["actor"] != ACTOR:
        return Told(gettext("The city wrote"), str(event["note"] or ""))
    if kind == "public_note":
        detail = str(after.get("public_note") or "")
        if after.get("expected_at"):
            expected = dt.datetime.fromisoformat(after["expected_at"])
            detail += " · " + gettext("expected %(day)s") % {
                "day": local_time(expected, "%d/%m/%Y")
            }
        return Told(gettext("Note from the city"), detail)
    if kind == "rated" and after.get("rating"):
        return Told(gettext("Rated %(n)s of 5 stars") % {"n": after["rating"]})
    return None
