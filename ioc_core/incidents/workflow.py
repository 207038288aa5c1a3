"""The incident state machine: which status may follow which."""

from __future__ import annotations

import datetime as dt

from ioc_core.i18n import gettext

STATUSES = (
    "new",
    "triaged",
    "assigned",
    "in_progress",
    "waiting",
    "resolved",
    "closed",
    "reopened",
    "duplicate",
    "rejected",
)
OPEN_STATUSES = ("new", "triaged", "assigned", "in_progress", "waiting", "reopened")
# A finished incident can only come back through "reopened", so its history shows it did.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("triaged", "assigned", "duplicate", "rejected"),
    "triaged": ("assigned", "duplicate", "rejected"),
    "assigned": ("in_progress", "waiting", "resolved", "triaged", "duplicate", "rejected"),
    "in_progress": ("resolved", "waiting", "assigned"),
    # Waiting on the citizen (more detail, access to the site): the SLA clock stops.
    "waiting": ("in_progress", "assigned", "resolved", "rejected"),
    "resolved": ("closed", "reopened"),
    "closed": ("reopened",),
    "reopened": ("triaged", "assigned", "in_progress", "duplicate", "rejected"),
    "duplicate": ("reopened",),
    "rejected": ("reopened",),
}
PRIORITIES = ("low", "normal", "high", "urgent")


def priority_labels() -> dict[str, str]:
    labels = {
        "low": gettext("Low"),
        "normal": gettext("Normal"),
        "high": gettext("High"),
        "urgent": gettext("Urgent"),
    }
    return {p: labels.get(p, p) for p in PRIORITIES}


def is_overdue(status: str, due: dt.datetime | None, now: dt.datetime | None = None) -> bool:
    """Open, not waiting on the citizen (the clock stops), and past its due time."""
    if due is None or status not in OPEN_STATUSES or status == "waiting":
        return False
    return due <= (now or dt.datetime.now(dt.UTC))


def status_label(status: str) -> str:
    labels = {
        "new": gettext("New"),
        "triaged": gettext("Triaged"),
        "assigned": gettext("Assigned"),
        "in_progress": gettext("In progress"),
        "waiting": gettext("Waiting on the citizen"),
        "resolved": gettext("Resolved"),
        "closed": gettext("Closed"),
        "reopened": gettext("Reopened"),
        "duplicate": gettext("Duplicate"),
        "rejected": gettext("Rejected"),
    }
    return labels.get(status, status)


class TransitionError(ValueError):
    """A status change the workflow does not allow; the message lists what is allowed."""


def check_transition(current: str, target: str) -> None:
    if target not in STATUSES:
        raise TransitionError(gettext("Unknown status %(status)s.") % {"status": target})
    allowed = TRANSITIONS.get(current, ())
    if target not in allowed:
        message = gettext("%(current)s cannot become %(target)s; it can become: %(allowed)s.")
        raise TransitionError(
            message
            % {
                "current": status_label(current),
                "target": status_label(target),
                "allowed": ", ".join(status_label(s) for s in allowed) or "-",
            }
        )
