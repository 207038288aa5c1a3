"""Enable, disable and phases against the database under test; data is never dropped."""

import dataclasses
from pathlib import Path

import pytest
from piccolo.table import Table

from ioc_core.db.tables import AuditEvent, PluginState, RolloutPhase
from ioc_core.plugins import lifecycle
from ioc_core.plugins.registry import PluginError
from ioc_core.runtime import Runtime, build_runtime
from ioc_core.settings import Settings
from tests.core.test_registry import BUILTINS
from tests.helpers import run


def sample_table(name: str) -> type[Table]:
    module = __import__("ioc_sample_reports.piccolo_app", fromlist=[name])
    return getattr(module, name)


def test_enable_resolves_requirements_in_order_and_migrates(runtime: Runtime) -> None:
    registry = runtime.registry
    assert run(lifecycle.plan_enable(registry, "sample_addon")) == [
        "sample_reports",
        "sample_addon",
    ]
    report = sample_table("SampleReport")
    assert run(report.table_exists()) is False

    assert run(lifecycle.enable(registry, "sample_addon", "tester")) == [
        "sample_reports",
        "sample_addon",
    ]
    assert run(report.table_exists()) is True
    states = {r.name: r for r in run(PluginState.objects())}
    assert states["sample_reports"].enabled and states["sample_addon"].enabled
    assert states["sample_addon"].changed_by == "tester"
    assert states["sample_addon"].changed_at is not None
    events = __import__("ioc_sample_reports").EVENTS
    assert ("enable", "tester") in events
    assert run(lifecycle.enable(registry, "sample_addon", "tester")) == [], "idempotent"


def test_disable_refused_while_required_and_keeps_data(runtime: Runtime) -> None:
    registry = runtime.registry
    run(lifecycle.enable(registry, "sample_addon", "tester"))
    report = sample_table("SampleReport")
    run(report.insert(report(note="đèn đường hỏng")))

    with pytest.raises(PluginError, match="sample_addon require it; disable those first"):
        run(lifecycle.disable(registry, "sample_reports", "tester"))
    assert run(lifecycle.disable(registry, "sample_addon", "tester")) is True
    assert run(lifecycle.disable(registry, "sample_reports", "tester")) is True
    assert run(lifecycle.disable(registry, "sample_reports", "tester")) is False

    assert run(report.table_exists())
    assert [r["note"] for r in run(report.select(report.note))] == ["đèn đường hỏng"]
    builtins = {n for n, p in registry.plugins.items() if p.spec.builtin}
    assert run(lifecycle.enabled_names(registry)) == builtins == set(BUILTINS)
    audit = run(AuditEvent.select().order_by(AuditEvent.id).output(load_json=True))
    assert [(a["action"], a["subject"]) for a in audit] == [
        ("plugin.enable", "sample_reports"),
        ("plugin.enable", "sample_addon"),
        ("plugin.disable", "sample_addon"),
        ("plugin.disable", "sample_reports"),
    ]
    assert audit[-1]["before"] == {"enabled": True, "phase": None}
    assert audit[-1]["after"] == {"enabled": False, "phase": None}


def test_builtin_and_unknown_plugins(runtime: Runtime) -> None:
    with pytest.raises(PluginError, match="part of the core and cannot be disabled"):
        run(lifecycle.disable(runtime.registry, "core", "tester"))
    with pytest.raises(PluginError, match="no plugin named 'nope' is installed"):
        run(lifecycle.enable(runtime.registry, "nope", "tester"))
    with pytest.raises(PluginError, match="sample_broken cannot be used: RuntimeError"):
        run(lifecycle.enable(runtime.registry, "sample_broken", "tester"))


def test_phase_defined_in_database_applies_in_one_action(runtime: Runtime) -> None:
    registry = runtime.registry
    run(lifecycle.define_phase(registry, "pilot", ["sample_addon"], "tester", "Giai đoạn 1"))
    assert run(lifecycle.apply_phase(registry, "pilot", "tester")) == [
        "sample_reports",
        "sample_addon",
    ]
    phase = run(lifecycle.phases(registry))["pilot"]
    assert phase.source == "database" and phase.applied_by == "tester"
    assert phase.plugins == ("sample_addon",) and phase.title == "Giai đoạn 1"
    assert {r.name: r.phase for r in run(PluginState.objects())} == {
        "sample_reports": "pilot",
        "sample_addon": "pilot",
    }


def test_phase_with_unusable_plugin_changes_nothing(runtime: Runtime) -> None:
    registry = runtime.registry
    with pytest.raises(PluginError, match="no plugin named 'ghost'"):
        run(lifecycle.define_phase(registry, "bad", ["sample_reports", "ghost"], "tester"))
    run(RolloutPhase.insert(RolloutPhase(name="stale", plugins=["sample_reports", "ghost"])))
    with pytest.raises(PluginError, match="no plugin named 'ghost'"):
        run(lifecycle.apply_phase(registry, "stale", "tester"))
    assert run(PluginState.count()) == 0
    with pytest.raises(PluginError, match=r"no phase named 'nope' \(known: stale\)"):
        run(lifecycle.apply_phase(registry, "nope", "tester"))


def test_phase_from_settings_file(settings: Settings, sample_plugins: Path) -> None:
    with_phase = dataclasses.replace(settings, phases={"phase2": ("sample_reports",)})
    built = build_runtime(with_phase)
    run(lifecycle.migrate_enabled(built.registry))
    assert run(lifecycle.phases(built.registry))["phase2"].source == "settings"
    with pytest.raises(PluginError, match="defined in the settings file"):
        run(lifecycle.define_phase(built.registry, "phase2", ["sample_addon"], "tester"))
    assert run(lifecycle.apply_phase(built.registry, "phase2", "tester")) == ["sample_reports"]
    assert run(lifecycle.phases(built.registry))["phase2"].applied_by == "tester"
