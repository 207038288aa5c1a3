"""The core's own tables: plugin state, rollout phases, the audit trail, periodic runs."""

from __future__ import annotations

from piccolo.columns import JSON, Boolean, Text, Timestamptz, Varchar
from piccolo.table import Table


class PluginState(Table, tablename="plugin_state"):
    """Whether an installed plugin is enabled; every process reads it, so one change reaches all."""

    name = Varchar(length=64, unique=True)
    enabled = Boolean(default=False)
    phase = Varchar(length=64, null=True, default=None)
    changed_at = Timestamptz()
    changed_by = Varchar(length=128)


class RolloutPhase(Table, tablename="rollout_phase"):
    """A named set of plugins enabled together (phase 1 pilot, phase 2, ...)."""

    name = Varchar(length=64, unique=True)
    title = Varchar(length=200, default="")
    plugins = JSON(default=[])
    applied_at = Timestamptz(null=True, default=None)
    applied_by = Varchar(length=128, null=True, default=None)


class AuditEvent(Table, tablename="audit_event"):
    """Append-only record of administrative actions: who did what, when, before and after."""

    at = Timestamptz()
    actor = Varchar(length=128)
    action = Varchar(length=64, index=True)
    subject = Varchar(length=200)
    before = JSON(null=True, default=None)
    after = JSON(null=True, default=None)
    note = Text(default="")


class PeriodicRun(Table, tablename="periodic_run"):
    """When a cluster-wide periodic job last ran: the claim that makes it run once per period."""

    name = Varchar(length=128, unique=True)
    last_at = Timestamptz()
