"""Per-process configuration caches: read once, read again after any change to a watched table
(from any code path, committed), never kept from a change that was rolled back."""

from __future__ import annotations

from typing import Any

from ioc_core.auth.tables import Department
from ioc_core.db.config_cache import ConfigCache, pinned
from ioc_core.db.transactions import write_transaction
from ioc_core.incidents import service
from ioc_core.incidents.tables import Category, Incident
from ioc_core.runtime import Runtime
from ioc_core.sla.tables import RoutingRule
from tests.helpers import run


def counting_cache() -> tuple[ConfigCache[list[str]], list[int]]:
    """A cache of the category codes, and how many times it loaded them."""
    loads: list[int] = []

    async def load() -> list[str]:
        loads.append(1)
        return sorted(r["code"] for r in await Category.select(Category.code))

    return ConfigCache(load), loads


def test_loads_once_until_a_watched_table_changes(runtime: Runtime) -> None:
    cache, loads = counting_cache()
    run(Category(code="roads", name_vi="Đường sá").save())
    assert run(cache.get()) == ["roads"] and run(cache.get()) == ["roads"]
    assert len(loads) == 1

    # A table no cache watches: nothing to read again.
    run(Department(code="x", name_vi="X", level="department").save())
    run(cache.get())
    assert len(loads) == 1

    run(Category(code="lights", name_vi="Đèn").save())
    assert run(cache.get()) == ["lights", "roads"] and len(loads) == 2
    run(Category.update({Category.code: "lamps"}).where(Category.code == "lights"))
    assert run(cache.get()) == ["lamps", "roads"]
    run(Category.delete().where(Category.code == "lamps"))
    assert run(cache.get()) == ["roads"] and len(loads) == 4


def test_a_rolled_back_change_is_not_kept(runtime: Runtime) -> None:
    cache, _ = counting_cache()
    run(Category(code="roads", name_vi="Đường sá").save())
    run(cache.get())

    class Undo(Exception):
        pass

    async def change_then_undo() -> list[str]:
        try:
            async with write_transaction():
                await Category(code="ghost", name_vi="Ma").save()
                seen = await cache.get()
                raise Undo
        except Undo:
            return seen

    assert run(change_then_undo()) == ["ghost", "roads"]
    assert run(cache.get()) == ["roads"]
    # The next committed change must not pass for the rolled-back one.
    run(Category(code="lights", name_vi="Đèn").save())
    assert run(cache.get()) == ["lights", "roads"]


def test_pinned_reads_the_version_once_for_the_block(runtime: Runtime) -> None:
    cache, loads = counting_cache()

    async def within() -> tuple[list[str], list[str]]:
        async with pinned():
            first = await cache.get()
            await Category(code="roads", name_vi="Đường sá").save()
            return first, await cache.get()

    assert run(within()) == ([], []) and len(loads) == 1
    assert run(cache.get()) == ["roads"] and len(loads) == 2


def filed(category: str) -> dict[str, Any]:
    incident = run(
        service.create_incident(
            service.NewIncident(source="test", title="Ổ gà", category=category), "test"
        )
    )
    row = run(Incident.select().where(Incident.id == incident.id).first())
    assert row is not None
    return row


def test_filing_follows_rules_changed_straight_in_the_tables(runtime: Runtime) -> None:
    roads = Category(code="roads", name_vi="Đường sá")
    works = Department(code="works", name_vi="Công trình", level="department")
    parks = Department(code="parks", name_vi="Công viên", level="department")
    for row in (roads, works, parks):
        run(row.save())
    assert filed("roads")["department"] is None

    rule = RoutingRule(category=roads.id, area=None, department=works.id)
    run(rule.save())
    assert filed("roads")["department"] == works.id
    run(RoutingRule.update({RoutingRule.department: parks.id}).where(RoutingRule.id == rule.id))
    assert filed("roads")["department"] == parks.id
    run(RoutingRule.delete().where(RoutingRule.id == rule.id))
    assert filed("roads")["department"] is None

    run(Category.update({Category.code: "streets"}).where(Category.id == roads.id))
    assert filed("streets")["category"] == roads.id
