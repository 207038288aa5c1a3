"""Configuring routing rules, SLA targets and the working calendar: the services refuse bad
input field by field and store nothing then, every change is audited, and the pages let an
administrator do it all through forms while others are refused."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from litestar.testing import TestClient

from ioc_core.auth.errors import FormError
from ioc_core.auth.tables import Department
from ioc_core.auth.users import create_user
from ioc_core.db.tables import AuditEvent
from ioc_core.geo.areas import import_areas
from ioc_core.incidents.tables import Area, Category
from ioc_core.runtime import Runtime
from ioc_core.sla import config
from ioc_core.sla.tables import CalendarDay, OfficeHours, RoutingRule, SlaTarget
from ioc_core.web.app import create_app
from tests.helpers import STAFF_PASSWORD, in_app, run, sign_in

WARDS = Path(__file__).parent.parent / "geo" / "fixtures" / "wards.geojson"
PASSWORD = STAFF_PASSWORD
T = TypeVar("T")


def seed() -> dict[str, int]:
    """Two categories, the test wards, two departments, an administrator and an officer."""
    run(import_areas(WARDS))
    roads = Category(code="roads", name_vi="Đường sá", name_en="Roads")
    lights = Category(code="lights", name_vi="Đèn đường", name_en="")
    north = Department(code="p-bac", name_vi="Phường Bắc", name_en="North Ward", level="ward")
    works = Department(code="qlđt", name_vi="Phòng Quản lý đô thị", level="department")
    for row in (roads, lights, north, works):
        run(row.save())
    run(create_user("quantri", PASSWORD, roles=["admin"], actor="test"))
    run(create_user("canbo", PASSWORD, roles=["officer"], actor="test"))
    area = run(Area.select(Area.id).where(Area.code == "TEST-W01").first())
    assert area is not None
    return {
        "roads": roads.id,
        "lights": lights.id,
        "north": north.id,
        "works": works.id,
        "w01": area["id"],
    }


def refused(call: Awaitable[Any]) -> dict[str, str]:
    with pytest.raises(FormError) as caught:
        run(call)
    return caught.value.errors


def audited(action: str) -> list[dict[str, Any]]:
    query = AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id)
    return run(query.output(load_json=True))


# Routing rules


def test_routing_rules_are_checked_unique_and_audited(runtime: Runtime) -> None:
    ids = seed()
    rule = {"category": str(ids["roads"]), "area": str(ids["w01"]), "department": str(ids["north"])}
    for bad, field in (
        ({**rule, "category": "999"}, "category"),
        ({**rule, "category": "abc"}, "category"),
        ({**rule, "area": "99999999999999"}, "area"),
        ({**rule, "department": ""}, "department"),
        ({**rule, "department": "999"}, "department"),
    ):
        assert field in refused(config.save_routing_rule(bad, "quantri")), bad
    assert run(RoutingRule.count()) == 0 and audited("sla.routing_rule.save") == []

    first = run(config.save_routing_rule(rule, "quantri"))
    catch_all = run(config.save_routing_rule({"department": str(ids["works"])}, "quantri"))
    assert catch_all.category is None and catch_all.area is None
    assert "area" in refused(config.save_routing_rule(rule, "quantri")), "same pair"
    again = {"category": "", "area": "", "department": str(ids["north"])}
    assert "area" in refused(config.save_routing_rule(again, "quantri")), "second catch-all"
    assert "area" in refused(config.save_routing_rule(rule, "quantri", catch_all.id))
    assert run(RoutingRule.count()) == 2

    # A rule may be saved over itself, and change its department.
    run(config.save_routing_rule({**rule, "department": str(ids["works"])}, "quantri", first.id))
    saves = audited("sla.routing_rule.save")
    assert [(e["actor"], e["subject"]) for e in saves] == [
        ("quantri", f"routing_rule/{first.id}"),
        ("quantri", f"routing_rule/{catch_all.id}"),
        ("quantri", f"routing_rule/{first.id}"),
    ]
    assert saves[0]["before"] is None
    assert saves[2]["before"] == {"category": "roads", "area": "TEST-W01", "department": "p-bac"}
    assert saves[2]["after"] == {"category": "roads", "area": "TEST-W01", "department": "qlđt"}

    run(config.delete_routing_rule(first.id, "quantri"))
    deleted = audited("sla.routing_rule.delete")
    assert [(e["before"]["department"], e["after"]) for e in deleted] == [("qlđt", None)]
    assert run(RoutingRule.count()) == 1
    with pytest.raises(config.Missing):
        run(config.delete_routing_rule(first.id, "quantri"))
    with pytest.raises(config.Missing):
        run(config.save_routing_rule(rule, "quantri", first.id))


# SLA targets


def test_sla_targets_are_checked_unique_and_audited(runtime: Runtime) -> None:
    ids = seed()
    target = {"category": str(ids["roads"]), "priority": "high", "hours": "16", "warn_hours": "4"}
    for bad, field in (
        ({**target, "hours": "0"}, "hours"),
        ({**target, "hours": "2", "warn_hours": "2"}, "warn_hours"),
        ({**target, "hours": "-3"}, "hours"),
        ({**target, "hours": "nhiều"}, "hours"),
        ({**target, "hours": "nan"}, "hours"),
        ({**target, "hours": "inf"}, "hours"),
        ({**target, "hours": str(config.MAX_HOURS + 1)}, "hours"),
        ({**target, "warn_hours": "16"}, "warn_hours"),
        ({**target, "warn_hours": "-1"}, "warn_hours"),
        ({**target, "warn_hours": ""}, "warn_hours"),
        ({**target, "priority": "critical"}, "priority"),
        ({**target, "category": "999"}, "category"),
    ):
        assert field in refused(config.save_sla_target(bad, "quantri")), bad
    assert run(SlaTarget.count()) == 0 and audited("sla.target.save") == []

    # A decimal comma is how people in Vietnam write 7.5.
    row = run(config.save_sla_target({**target, "hours": "7,5", "warn_hours": "2"}, "quantri"))
    assert (row.hours, row.warn_hours, row.priority) == (7.5, 2.0, "high")
    default = run(config.save_sla_target({"hours": "40", "warn_hours": "8"}, "quantri"))
    assert default.category is None and default.priority == ""
    assert "priority" in refused(config.save_sla_target(target, "quantri")), "same pair"
    assert "priority" in refused(
        config.save_sla_target({"hours": "30", "warn_hours": "1"}, "quantri")
    ), "second default"
    run(config.save_sla_target(target, "quantri", row.id))
    saves = audited("sla.target.save")
    assert saves[-1]["before"] == {
        "category": "roads",
        "priority": "high",
        "hours": 7.5,
        "warn_hours": 2.0,
    }
    assert saves[-1]["after"]["hours"] == 16.0
    run(config.delete_sla_target(default.id, "quantri"))
    assert audited("sla.target.delete")[0]["before"]["category"] is None
    assert run(SlaTarget.count()) == 1


# Calendar days and default holidays


def test_calendar_days_are_checked_unique_and_audited(runtime: Runtime) -> None:
    day = {"day": "2027-01-02", "working": "1", "name": "Làm bù"}
    for bad, field in (
        ({**day, "day": "31/02/2027"}, "day"),
        ({**day, "day": "mai"}, "day"),
        ({**day, "day": ""}, "day"),
        ({**day, "day": "1999-12-31"}, "day"),
        ({**day, "working": "maybe"}, "working"),
        ({**day, "name": "  "}, "name"),
        ({**day, "name": "x" * (config.MAX_DAY_NAME + 1)}, "name"),
        # The migration seeded New Year's Day 2027.
        ({**day, "day": "01/01/2027"}, "day"),
    ):
        assert field in refused(config.save_calendar_day(bad, "quantri")), bad
    seeded = run(CalendarDay.count())
    assert audited("sla.calendar_day.save") == []

    worked = run(config.save_calendar_day(day, "quantri"))
    assert (worked.day, worked.working) == (dt.date(2027, 1, 2), True)
    moved = {"day": "04/01/2027", "working": "0", "name": "Nghỉ bù"}
    run(config.save_calendar_day(moved, "quantri", worked.id))
    assert run(CalendarDay.count()) == seeded + 1
    saves = audited("sla.calendar_day.save")
    assert saves[0]["before"] is None
    assert saves[1]["before"] == {"day": "2027-01-02", "working": True, "name": "Làm bù"}
    assert saves[1]["after"] == {"day": "2027-01-04", "working": False, "name": "Nghỉ bù"}
    run(config.delete_calendar_day(worked.id, "quantri"))
    assert audited("sla.calendar_day.delete")[0]["before"]["day"] == "2027-01-04"
    assert run(CalendarDay.count()) == seeded


def test_default_holidays_are_added_once(runtime: Runtime) -> None:
    # The migration seeds 2025-2030; 2031's holidays are not there yet.
    assert run(config.add_default_holidays(2031, "quantri")) == 4
    assert run(config.add_default_holidays(2031, "quantri")) == 0
    days = run(CalendarDay.select().where(CalendarDay.day >= dt.date(2031, 1, 1)))
    assert {d["day"] for d in days} == {
        dt.date(2031, 1, 1),
        dt.date(2031, 4, 30),
        dt.date(2031, 5, 1),
        dt.date(2031, 9, 2),
    }
    assert len(audited("sla.calendar.default_holidays")) == 1, "nothing added, nothing audited"
    # A day an administrator changed on purpose is left as it is; only the missing one returns.
    tet = run(CalendarDay.objects().get(CalendarDay.day == dt.date(2026, 2, 17)))
    run(CalendarDay.delete().where(CalendarDay.day == dt.date(2026, 2, 18)))
    run(config.save_calendar_day({"day": "2026-02-17", "working": "1", "name": "x"}, "q", tet.id))
    assert run(config.add_default_holidays(2026, "quantri")) == 1
    kept = run(CalendarDay.objects().get(CalendarDay.day == dt.date(2026, 2, 17)))
    assert kept.working and kept.name == "x"
    assert "year" in refused(config.add_default_holidays(1999, "quantri"))


# Office hours


def test_office_hours_are_parsed_checked_and_audited(runtime: Runtime) -> None:
    for text in (
        "7:30",
        "07:30-25:00",
        "11:30-07:30",
        "07:30-07:30",
        "07:30-11:30, 11:00-12:00",
        "sáng",
    ):
        assert "hours_0" in refused(config.replace_office_hours({0: text}, "quantri")), text
    assert "weekday" in refused(config.replace_office_hours({7: "08:00-09:00"}, "quantri"))
    everything_off = dict.fromkeys(config.WEEKDAYS, "")
    assert "" in refused(config.replace_office_hours(everything_off, "quantri"))
    before = run(config.office_week())
    assert before[0] == [("07:30", "11:30"), ("13:30", "17:00")] and before[5] == []
    assert audited("sla.office_hours.save") == []

    # Out of order, an en dash and a one-digit hour are read as people mean them.
    run(config.replace_office_hours({0: "13:00 \u2013 17:00; 7:00-11:00", 5: "07:30-11:30"}, "q"))
    run(config.replace_office_hours({1: "07:30-11:30, 13:30-17:00", 4: ""}, "quantri"))
    week = run(config.office_week())
    assert week[0] == [("07:00", "11:00"), ("13:00", "17:00")]
    assert week[5] == [("07:30", "11:30")] and week[4] == []
    assert week[1] == before[1]
    assert run(OfficeHours.count().where(OfficeHours.weekday == 4)) == 0
    changes = [(e["subject"], e["before"], e["after"]) for e in audited("sla.office_hours.save")]
    assert changes == [
        ("weekday/0", ["07:30-11:30", "13:30-17:00"], ["07:00-11:00", "13:00-17:00"]),
        ("weekday/5", [], ["07:30-11:30"]),
        ("weekday/4", ["07:30-11:30", "13:30-17:00"], []),
    ], "an unchanged weekday is not audited"


# The pages


def test_an_administrator_configures_everything_through_the_forms(runtime: Runtime) -> None:
    ids = seed()
    with TestClient(create_app(runtime=runtime)) as client:
        token = sign_in(client, "quantri")
        form = {"_csrf_token": token}
        home = client.get("/sla/settings")
        assert home.status_code == 200 and "/sla/settings/routing" in home.text

        form_page = client.get("/sla/settings/routing/new").text
        assert "Phòng Quản lý đô thị" in form_page and "Phường Thử nghiệm Bắc" in form_page
        rule = {"category": str(ids["roads"]), "area": str(ids["w01"]), "department": ""}
        missing = client.post("/sla/settings/routing/new", data=form | rule)
        assert missing.status_code == 422
        assert re.search(r'<small class="error" id="e-department">', missing.text)
        rule["department"] = str(ids["north"])
        saved = client.post("/sla/settings/routing/new", data=form | rule, follow_redirects=False)
        assert (saved.status_code, saved.headers["location"]) == (303, "/sla/settings/routing")
        listed = client.get("/sla/settings/routing").text
        assert "Đường sá" in listed and "Phường Thử nghiệm Bắc" in listed
        assert "Phường Bắc" in listed and f">{ids['north']}<" not in listed, "names, not ids"
        duplicate = client.post("/sla/settings/routing/new", data=form | rule)
        assert duplicate.status_code == 422 and 'id="e-area"' in duplicate.text

        target = {"category": "", "priority": "urgent", "hours": "4", "warn_hours": "1"}
        bad = client.post("/sla/settings/targets/new", data=form | {**target, "hours": "0"})
        assert bad.status_code == 422 and 'id="e-hours"' in bad.text
        assert 'value="1"' in bad.text, "what was typed stays in the form"
        assert 'id="e-warn_hours"' not in bad.text, "1 hour is fine; only the hours are wrong"
        client.post("/sla/settings/targets/new", data=form | target)
        targets = client.get("/sla/settings/targets").text
        assert "Khẩn cấp" in targets or "Urgent" in targets
        assert re.search(r"<td>4</td>\s*<td>1</td>", targets)

        holiday = {"day": "2027-03-08", "working": "0", "name": "Nghỉ lễ thành phố"}
        done = client.post(
            "/sla/settings/calendar/days/new", data=form | holiday, follow_redirects=False
        )
        assert done.headers["location"] == "/sla/settings/calendar?year=2027"
        calendar = client.get("/sla/settings/calendar?year=2027").text
        assert "08/03/2027" in calendar and "Nghỉ lễ thành phố" in calendar
        assert "01/01/2027" in calendar, "the seeded holidays are listed"

        hours = {f"hours_{d}": "07:00-11:00, 13:00-16:30" for d in range(5)}
        hours |= {"hours_5": "07:30-11:30", "hours_6": "", "year": "2027"}
        wrong = client.post("/sla/settings/calendar/hours", data=form | hours | {"hours_6": "9h"})
        assert wrong.status_code == 422 and 'id="e-hours_6"' in wrong.text
        assert 'value="9h"' in wrong.text
        assert in_app(client, config.office_week)[5] == [], "nothing stored from a refused form"
        client.post("/sla/settings/calendar/hours", data=form | hours)
        assert in_app(client, config.office_week)[5] == [("07:30", "11:30")]
        assert 'value="07:30-11:30"' in client.get("/sla/settings/calendar").text

        added = client.post("/sla/settings/calendar/holidays", data=form | {"year": "2031"})
        assert "01/01/2031" in added.text
        assert (
            in_app(client, CalendarDay.count().where(CalendarDay.day >= dt.date(2031, 1, 1)).run)
            == 4
        )

        # Delete: a confirmation page first, and only a POST deletes.
        rule_id = in_app(client, RoutingRule.select(RoutingRule.id).first().run)["id"]
        confirm = client.get(f"/sla/settings/routing/{rule_id}/delete")
        assert confirm.status_code == 200 and "Đường sá · Phường Thử nghiệm Bắc" in confirm.text
        assert in_app(client, RoutingRule.count().run) == 1
        client.post(f"/sla/settings/routing/{rule_id}/delete", data=form)
        assert in_app(client, RoutingRule.count().run) == 0
        gone = client.post(f"/sla/settings/routing/{rule_id}/delete", data=form)
        assert gone.status_code == 404
        assert client.get(f"/sla/settings/targets/{rule_id + 1000}").status_code == 404

        # In English, names in English where there is one.
        client.post("/language", data=form | {"language": "en", "next": "/"})
        client.post("/sla/settings/routing/new", data=form | rule)
        english = client.get("/sla/settings/routing").text
        assert "Roads" in english and "North Test Ward" in english and "North Ward" in english
        assert "Đèn đường" in client.get("/sla/settings/routing/new").text, "no English name"


def test_others_are_refused(runtime: Runtime) -> None:
    seed()
    with TestClient(create_app(runtime=runtime)) as client:
        token = sign_in(client, "canbo")
        for path in ("/sla/settings", "/sla/settings/routing", "/sla/settings/calendar"):
            assert client.get(path).status_code == 403, path
        rule = {"_csrf_token": token, "department": "1"}
        assert client.post("/sla/settings/routing/new", data=rule).status_code == 403
        hours = {"_csrf_token": token, "hours_0": ""}
        assert client.post("/sla/settings/calendar/hours", data=hours).status_code == 403
        assert (
            client.post(
                "/sla/settings/calendar/holidays", data={"_csrf_token": token, "year": "2031"}
            ).status_code
            == 403
        )
    assert run(RoutingRule.count()) == 0 and len(run(config.office_week())[0]) == 2
