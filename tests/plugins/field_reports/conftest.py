"""The field_reports plugin enabled on a migrated platform, with two services to report under."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from field_reports.tables import Service, ServiceField, ServiceGroup

from ioc_core.auth.tables import Department
from ioc_core.incidents.tables import Category
from ioc_core.plugins import lifecycle
from ioc_core.runtime import Runtime, build_runtime
from ioc_core.settings import Settings
from ioc_core.sla.tables import RoutingRule, SlaTarget
from tests.helpers import run

PHAN_THIET = (108.1017, 10.9289)


@dataclass
class Services:
    lights: int
    waste: int
    works: int


async def seed_services() -> Services:
    """Lights (with a required list field and a number) and waste (no fields), both routed."""
    city = Department(code="tp", name_vi="UBND thành phố", level="city")
    await city.save()
    works = Department(code="qldt", name_vi="Phòng Quản lý đô thị", parent=city.id)
    await works.save()
    group = ServiceGroup(code="ha-tang", name_vi="Hạ tầng", name_en="Infrastructure")
    await group.save()
    made = []
    for code, name_vi, name_en in (
        ("chieu-sang", "Chiếu sáng", "Street lighting"),
        ("rac-thai", "Rác thải", "Waste"),
    ):
        category = Category(code=code, name_vi=name_vi, name_en=name_en)
        await category.save()
        service = Service(
            category=category.id, group=group.id, description_vi=f"Phản ánh {name_vi}"
        )
        await service.save()
        made.append(service.id)
    now = dt.datetime.now(dt.UTC)
    await RoutingRule.insert(RoutingRule(department=works.id, updated_at=now, updated_by="t"))
    await SlaTarget.insert(SlaTarget(hours=16, warn_hours=4, updated_at=now, updated_by="t"))
    await ServiceField.insert(
        ServiceField(
            service=made[0],
            code="kieu-den",
            datatype="singlevaluelist",
            required=True,
            position=1,
            label_vi="Loại đèn",
            label_en="Kind of lamp",
            options=[
                {"key": "den-duong", "name_vi": "Đèn đường", "name_en": "Street lamp"},
                {"key": "den-cong-vien", "name_vi": "Đèn công viên", "name_en": "Park lamp"},
            ],
        ),
        ServiceField(
            service=made[0],
            code="so-den",
            datatype="number",
            position=2,
            label_vi="Số đèn hỏng",
            label_en="Lamps out",
        ),
    )
    return Services(lights=made[0], waste=made[1], works=works.id)


@pytest.fixture
def reports_runtime(settings: Settings) -> Iterator[Runtime]:
    """A migrated platform with field_reports enabled and the two services."""
    built = build_runtime(settings, park_delay_ms=200)
    run(lifecycle.migrate_enabled(built.registry))
    run(lifecycle.enable(built.registry, "field_reports", "test"))
    yield built
    built.broker.close()


@pytest.fixture
def services(reports_runtime: Runtime) -> Services:
    return run(seed_services())
