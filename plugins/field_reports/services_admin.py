"""Editing the services citizens report under: groups, services and their custom fields.

A service is a core `Category` (code, names, active) with its `Service` row (group, texts,
duplicate radius and window, position); its default department is the routing rule for
(category, any area) and its SLA the target for (category, any priority), both written through
`ioc_core.sla.config`, so they are audited and locked like the SLA settings' own.

One set of checks serves the staff forms and the catalog import (`catalog_io`): values come as
a form's text or as a document's typed values, every problem is reported at once keyed by field,
and nothing is written until all of them pass. Each row saved is audited with its before and
after; a save that changes nothing writes nothing.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, Literal

from piccolo.engine import engine_finder

from field_reports.tables import DATATYPES, Service, ServiceField, ServiceGroup
from ioc_core.auth.errors import FormError
from ioc_core.auth.tables import Department
from ioc_core.db.audit import audit
from ioc_core.db.transactions import write_transaction
from ioc_core.i18n import gettext
from ioc_core.incidents.tables import Category, Incident
from ioc_core.sla import config
from ioc_core.sla.config import Missing
from ioc_core.sla.tables import RoutingRule, SlaTarget

CODE_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
LIST_TYPES = ("singlevaluelist", "multivaluelist")
MAX_NAME = 200
MAX_LABEL = 300
MAX_TEXT = 4000
MAX_KEYWORDS = 500
MAX_POSITION = 10_000
# A duplicate farther than a few blocks or older than a year is another problem.
MAX_RADIUS_M = 5000
MAX_WINDOW_H = 24 * 365
# PostgreSQL advisory lock key: catalog writes queue behind each other, so two people cannot
# both add the same code. SQLite's BEGIN IMMEDIATE (write_transaction) does the same.
LOCK_KEY = 43_110_006

Outcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class GroupValues:
    code: str
    name_vi: str
    name_en: str
    position: int


@dataclass(frozen=True)
class ServiceValues:
    code: str
    name_vi: str
    name_en: str
    active: bool
    group: str | None  # a group's code
    description_vi: str
    description_en: str
    keywords: str
    public: bool
    duplicate_radius_m: int
    duplicate_window_h: int
    position: int
    department: str | None  # a department's code: the routing rule for any area
    sla_hours: float | None  # the SLA target for any priority; None: no target of its own
    sla_warn_hours: float | None


@dataclass(frozen=True)
class FieldValues:
    code: str
    datatype: str
    required: bool
    position: int
    label_vi: str
    label_en: str
    help_vi: str
    help_en: str
    options: list[dict[str, str]]


def keys_of(kind: type[Any]) -> frozenset[str]:
    """The names a document may use for one item of this kind."""
    return frozenset(f.name for f in dataclasses.fields(kind))


# Reading values


class Reader:
    """One item's values, from a form (text) or a document (typed), and what is wrong with
    them, keyed by field."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.errors: dict[str, str] = {}

    def _given(self, key: str) -> Any:
        value = self.raw.get(key)
        return value.strip() if isinstance(value, str) else value

    def text(self, key: str, limit: int, *, required: bool = False) -> str:
        value = self._given(key)
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.errors[key] = gettext("Give text.")
            return ""
        if required and not value:
            self.errors[key] = gettext("Required.")
        elif len(value) > limit:
            self.errors[key] = gettext("At most %(n)s characters.") % {"n": limit}
        return value

    def code(self, key: str = "code") -> str:
        value = self.text(key, 64, required=True)
        if key not in self.errors and not CODE_RE.match(value):
            self.errors[key] = gettext(
                "A code: 1 to 64 lower-case letters, digits, hyphens or underscores."
            )
        return value

    def reference(self, key: str) -> str | None:
        """The code of another row (a group, a department); empty means none."""
        return self.text(key, 64) or None

    def flag(self, key: str, default: bool) -> bool:
        value = self._given(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.errors[key] = gettext("Give true or false.")
            return default
        return value

    def integer(self, key: str, low: int, high: int, default: int) -> int:
        value = self._given(key)
        if value is None or value == "":
            return default
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"-?\d{1,9}", value):
            number = int(value)
        if number is None or not low <= number <= high:
            self.errors[key] = gettext("A whole number from %(low)s to %(high)s.") % {
                "low": low,
                "high": high,
            }
            return default
        return number

    def hours(self, key: str) -> float | None:
        value = self._given(key)
        if value is None or value == "":
            return None
        number = math.nan
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            # People in Vietnam write a decimal comma (7,5).
            with suppress(ValueError):
                number = float(value.replace(",", "."))
        if not math.isfinite(number):
            self.errors[key] = gettext("Enter a number of hours, e.g. 8 or 7.5.")
            return None
        return number


def check_group(raw: Mapping[str, Any]) -> tuple[GroupValues, dict[str, str]]:
    read = Reader(raw)
    values = GroupValues(
        code=read.code(),
        name_vi=read.text("name_vi", MAX_NAME, required=True),
        name_en=read.text("name_en", MAX_NAME),
        position=read.integer("position", 0, MAX_POSITION, 0),
    )
    return values, read.errors


def check_service(raw: Mapping[str, Any]) -> tuple[ServiceValues, dict[str, str]]:
    read = Reader(raw)
    values = ServiceValues(
        code=read.code(),
        name_vi=read.text("name_vi", MAX_NAME, required=True),
        name_en=read.text("name_en", MAX_NAME),
        active=read.flag("active", True),
        group=read.reference("group"),
        description_vi=read.text("description_vi", MAX_TEXT),
        description_en=read.text("description_en", MAX_TEXT),
        keywords=read.text("keywords", MAX_KEYWORDS),
        public=read.flag("public", True),
        duplicate_radius_m=read.integer("duplicate_radius_m", 1, MAX_RADIUS_M, 50),
        duplicate_window_h=read.integer("duplicate_window_h", 1, MAX_WINDOW_H, 72),
        position=read.integer("position", 0, MAX_POSITION, 0),
        department=read.reference("department"),
        sla_hours=read.hours("sla_hours"),
        sla_warn_hours=read.hours("sla_warn_hours"),
    )
    _check_sla(values, read.errors)
    return values, read.errors


def _check_sla(values: ServiceValues, errors: dict[str, str]) -> None:
    """The rules of `config.save_sla_target`, checked before anything is written (it checks
    them again when the target is saved): an import is refused whole, not half-way."""
    hours, warn = values.sla_hours, values.sla_warn_hours
    if "sla_hours" in errors or "sla_warn_hours" in errors:
        return
    if hours is None:
        if warn is not None:
            errors["sla_hours"] = gettext("Give the hours to resolve too, or neither.")
    elif not 0 < hours <= config.MAX_HOURS:
        errors["sla_hours"] = gettext("Hours: more than 0 and at most %(max)s.") % {
            "max": config.MAX_HOURS
        }
    elif warn is None:
        errors["sla_warn_hours"] = gettext("Enter a number of hours, e.g. 8 or 7.5.")
    elif warn < 0:
        errors["sla_warn_hours"] = gettext("Warn: 0 hours or more.")
    elif warn >= hours:
        errors["sla_warn_hours"] = gettext("Warn: fewer hours than the hours to resolve.")


def check_field(raw: Mapping[str, Any]) -> tuple[FieldValues, dict[str, str]]:
    read = Reader(raw)
    datatype = read.text("datatype", 16, required=True)
    if "datatype" not in read.errors and datatype not in DATATYPES:
        read.errors["datatype"] = gettext("Choose a type from the list.")
    values = FieldValues(
        code=read.code(),
        datatype=datatype,
        required=read.flag("required", False),
        position=read.integer("position", 0, MAX_POSITION, 0),
        label_vi=read.text("label_vi", MAX_LABEL, required=True),
        label_en=read.text("label_en", MAX_LABEL),
        help_vi=read.text("help_vi", MAX_TEXT),
        help_en=read.text("help_en", MAX_TEXT),
        options=_options(raw.get("options"), datatype, read.errors),
    )
    return values, read.errors


def _options(raw: Any, datatype: str, errors: dict[str, str]) -> list[dict[str, str]]:
    """A list type's choices: a form's lines `key | name_vi | name_en`, or a document's list
    of {key, name_vi, name_en}. Errors of one option are keyed `options[i].key` and so on."""
    items: list[Mapping[str, Any]] = []
    lines: list[int] = []  # a form's line number of each item
    if isinstance(raw, str):
        for number, line in enumerate(raw.splitlines(), 1):
            if line.strip():
                lines.append(number)
                parts = [p.strip() for p in line.split("|")]
                if len(parts) > 3:
                    errors["options"] = gettext(
                        "Line %(n)s: write key | Vietnamese name | English name."
                    ) % {"n": number}
                    return []
                items.append(dict(zip(("key", "name_vi", "name_en"), parts, strict=False)))
    elif isinstance(raw, list) and all(isinstance(item, Mapping) for item in raw):
        items = raw
    elif raw is not None:
        errors["options"] = gettext("Give a list of options with key, name_vi and name_en.")
        return []
    options = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        read = Reader(item)
        option = {
            "key": read.code("key"),
            "name_vi": read.text("name_vi", MAX_NAME, required=True),
            "name_en": read.text("name_en", MAX_NAME),
        }
        unknown = sorted(set(item) - set(option))
        if unknown:
            read.errors[unknown[0]] = gettext("Unknown name %(name)s.") % {"name": unknown[0]}
        if "key" not in read.errors and option["key"] in seen:
            read.errors["key"] = gettext("The key %(key)s is used twice.") % {"key": option["key"]}
        seen.add(option["key"])
        for key, message in read.errors.items():
            if isinstance(raw, str):
                # A form has one box for every line: say which line.
                errors.setdefault(
                    "options",
                    gettext("Line %(n)s: %(problem)s") % {"n": lines[index], "problem": message},
                )
            else:
                errors[f"options[{index}].{key}"] = message
        options.append(option)
    if datatype not in DATATYPES or any(k.startswith("options") for k in errors):
        return options
    if datatype in LIST_TYPES and not options:
        errors["options"] = gettext("A list field needs at least one option.")
    elif datatype not in LIST_TYPES and options:
        errors["options"] = gettext("Only the list types have options.")
    return options


# Writing


@asynccontextmanager
async def writing() -> AsyncIterator[None]:
    """One transaction that catalog writes queue for, so checks of codes stay true."""
    async with write_transaction():
        engine = engine_finder()
        if engine is not None and engine.engine_type != "sqlite":
            await engine.run_ddl(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")
        yield


async def code_to_id(table: Any, code: str | None) -> int | None:
    if code is None:
        return None
    row = await table.select(table.id).where(table.code == code).first()
    return None if row is None else int(row["id"])


async def write_group(
    values: GroupValues, actor: str, row: ServiceGroup | None
) -> tuple[ServiceGroup, Outcome]:
    """Store a checked group; `row` is the group to change, None for a new one."""
    before = _group_facts(row) if row is not None else None
    target = row or ServiceGroup(_ignore_missing=True)
    for name, value in dataclasses.asdict(values).items():
        setattr(target, name, value)
    after = _group_facts(target)
    if before == after:
        return target, "unchanged"
    await target.save()
    await audit(actor, "field_reports.group.save", f"group/{values.code}", before, after)
    return target, "created" if row is None else "updated"


def _group_facts(row: ServiceGroup) -> dict[str, Any]:
    return {name: getattr(row, name) for name in keys_of(GroupValues)}


async def write_service(
    values: ServiceValues,
    actor: str,
    row: Service | None,
    group_id: int | None,
    department_id: int | None,
) -> tuple[Service, Outcome]:
    """Store a checked service; `row` is the service to change, None for a new one (which
    takes over a category of the same code that is no service yet)."""
    category: Category | None
    if row is not None:
        category = await Category.objects().get(Category.id == row.category)
    else:
        category = await Category.objects().get(Category.code == values.code)
    before = await service_facts(row.id) if row is not None else None
    category = category or Category(_ignore_missing=True)
    category.code, category.name_vi, category.name_en = values.code, values.name_vi, values.name_en
    category.active = values.active
    await category.save()
    service = row or Service(category=category.id)
    service.group = group_id
    for name in (
        "description_vi",
        "description_en",
        "keywords",
        "public",
        "duplicate_radius_m",
        "duplicate_window_h",
        "position",
    ):
        setattr(service, name, getattr(values, name))
    await service.save()
    changed = await _write_routing(category.id, department_id, actor)
    changed |= await _write_sla(category.id, values.sla_hours, values.sla_warn_hours, actor)
    after = await service_facts(service.id)
    if before != after:
        await audit(actor, "field_reports.service.save", f"service/{values.code}", before, after)
    elif not changed:
        return service, "unchanged"
    return service, "created" if row is None else "updated"


async def _write_routing(category_id: int, department_id: int | None, actor: str) -> bool:
    rule = (
        await RoutingRule.select(RoutingRule.id, RoutingRule.department)
        .where(RoutingRule.category == category_id, RoutingRule.area.is_null())
        .first()
    )
    if department_id is None:
        if rule is None:
            return False
        await config.delete_routing_rule(rule["id"], actor)
        return True
    if rule is not None and rule["department"] == department_id:
        return False
    wanted = {"category": str(category_id), "area": "", "department": str(department_id)}
    await config.save_routing_rule(wanted, actor, rule["id"] if rule else None)
    return True


async def _write_sla(
    category_id: int, hours: float | None, warn_hours: float | None, actor: str
) -> bool:
    target = (
        await SlaTarget.select(SlaTarget.id, SlaTarget.hours, SlaTarget.warn_hours)
        .where(SlaTarget.category == category_id, SlaTarget.priority == "")
        .first()
    )
    if hours is None:
        if target is None:
            return False
        await config.delete_sla_target(target["id"], actor)
        return True
    if target is not None and (target["hours"], target["warn_hours"]) == (hours, warn_hours):
        return False
    wanted = {
        "category": str(category_id),
        "priority": "",
        "hours": repr(hours),
        "warn_hours": repr(warn_hours),
    }
    await config.save_sla_target(wanted, actor, target["id"] if target else None)
    return True


async def service_facts(service_id: int) -> dict[str, Any] | None:
    """A service as the audit log and the catalog show it: codes rather than ids."""
    return await (
        Service.select(
            Service.category.code.as_alias("code"),
            Service.category.name_vi.as_alias("name_vi"),
            Service.category.name_en.as_alias("name_en"),
            Service.category.active.as_alias("active"),
            Service.group.code.as_alias("group"),
            Service.description_vi,
            Service.description_en,
            Service.keywords,
            Service.public,
            Service.duplicate_radius_m,
            Service.duplicate_window_h,
            Service.position,
        )
        .where(Service.id == service_id)
        .first()
    )


async def service_values(service_id: int) -> dict[str, Any] | None:
    """Everything a service is, as `check_service` reads it: with its default department's
    code and its own SLA target's hours."""
    facts = await service_facts(service_id)
    if facts is None:
        return None
    category = await Service.select(Service.category).where(Service.id == service_id).first()
    assert category is not None
    rule = (
        await RoutingRule.select(RoutingRule.department.code.as_alias("code"))
        .where(RoutingRule.category == category["category"], RoutingRule.area.is_null())
        .first()
    )
    target = (
        await SlaTarget.select(SlaTarget.hours, SlaTarget.warn_hours)
        .where(SlaTarget.category == category["category"], SlaTarget.priority == "")
        .first()
    )
    return facts | {
        "department": rule["code"] if rule else None,
        "sla_hours": target["hours"] if target else None,
        "sla_warn_hours": target["warn_hours"] if target else None,
    }


async def write_field(
    values: FieldValues, actor: str, service_id: int, row: ServiceField | None
) -> tuple[ServiceField, Outcome]:
    """Store a checked field of a service; `row` is the field to change, None for a new one."""
    before = _field_facts(row) if row is not None else None
    target = row or ServiceField(service=service_id)
    for name, value in dataclasses.asdict(values).items():
        setattr(target, name, value)
    after = _field_facts(target)
    if before == after:
        return target, "unchanged"
    await target.save()
    subject = await _field_subject(service_id, values.code)
    await audit(actor, "field_reports.field.save", subject, before, after)
    return target, "created" if row is None else "updated"


async def _field_subject(service_id: int, code: str) -> str:
    service = (
        await Service.select(Service.category.code.as_alias("code"))
        .where(Service.id == service_id)
        .first()
    )
    return f"service/{service['code'] if service else service_id}/field/{code}"


def _field_facts(row: ServiceField) -> dict[str, Any]:
    return {name: getattr(row, name) for name in keys_of(FieldValues)}


# The staff forms: one row at a time


async def save_group(
    raw: Mapping[str, Any], actor: str, group_id: int | None = None
) -> ServiceGroup:
    values, errors = check_group(raw)
    async with writing():
        row = await _existing(ServiceGroup, group_id)
        if "code" not in errors and await _taken(ServiceGroup, values.code, group_id):
            errors["code"] = gettext("Another group has this code.")
        if errors:
            raise FormError(errors)
        group, _ = await write_group(values, actor, row)
    return group


async def delete_group(group_id: int, actor: str) -> ServiceGroup:
    async with writing():
        row = await _existing(ServiceGroup, group_id)
        if await Service.exists().where(Service.group == group_id):
            raise FormError({"": gettext("Services are listed under this group: move them first.")})
        await row.remove()
        facts = _group_facts(row)
        await audit(actor, "field_reports.group.delete", f"group/{row.code}", facts, None)
    return row


async def save_service(
    raw: Mapping[str, Any], actor: str, service_id: int | None = None
) -> Service:
    values, errors = check_service(raw)
    async with writing():
        row = await _existing(Service, service_id)
        group_id = await _reference(ServiceGroup, values.group, "group", errors)
        department_id = await _reference(Department, values.department, "department", errors)
        if "code" not in errors:
            category = await Category.select(Category.id).where(Category.code == values.code)
            owner = None
            if category:
                owner = (
                    await Service.select(Service.id)
                    .where(Service.category == category[0]["id"])
                    .first()
                )
            if owner is not None and owner["id"] != service_id:
                errors["code"] = gettext("Another service has this code.")
            elif category and owner is None and service_id is not None:
                # Renaming onto another category would mix two categories' incidents.
                errors["code"] = gettext("A category with this code exists already.")
        if errors:
            raise FormError(errors)
        service, _ = await write_service(values, actor, row, group_id, department_id)
    return service


async def delete_service(service_id: int, actor: str) -> Service:
    """Remove a service no report was filed under, with its fields, its category, its default
    routing rule and SLA target. One with reports is withdrawn instead (not offered)."""
    async with writing():
        row = await _existing(Service, service_id)
        category_id = row.category
        if await Incident.exists().where(Incident.category == category_id):
            raise FormError(
                {
                    "": gettext(
                        "Reports were filed under this service: withdraw it instead "
                        "(untick Offered to citizens)."
                    )
                }
            )
        if await RoutingRule.exists().where(
            RoutingRule.category == category_id, RoutingRule.area.is_not_null()
        ) or await SlaTarget.exists().where(
            SlaTarget.category == category_id, SlaTarget.priority != ""
        ):
            raise FormError(
                {
                    "": gettext(
                        "Routing rules or SLA targets in the SLA settings name this service: "
                        "remove them there first."
                    )
                }
            )
        before = await service_facts(service_id)
        assert before is not None
        for field in await ServiceField.objects().where(ServiceField.service == service_id):
            await _remove_field(field, actor)
        await _write_routing(category_id, None, actor)
        await _write_sla(category_id, None, None, actor)
        await row.remove()
        await Category.delete().where(Category.id == category_id)
        subject = f"service/{before['code']}"
        await audit(actor, "field_reports.service.delete", subject, before, None)
    return row


async def save_field(
    service_id: int, raw: Mapping[str, Any], actor: str, field_id: int | None = None
) -> ServiceField:
    values, errors = check_field(raw)
    async with writing():
        await _existing(Service, service_id)
        row = await _field_of(service_id, field_id)
        if "code" not in errors:
            taken = ServiceField.exists().where(
                ServiceField.service == service_id, ServiceField.code == values.code
            )
            if field_id is not None:
                taken = taken.where(ServiceField.id != field_id)
            if await taken:
                errors["code"] = gettext("This service has a field with this code already.")
        if errors:
            raise FormError(errors)
        field, _ = await write_field(values, actor, service_id, row)
    return field


async def delete_field(service_id: int, field_id: int, actor: str) -> ServiceField:
    """Remove a custom field; reports keep the values they were sent with."""
    async with writing():
        row = await _field_of(service_id, field_id)
        assert row is not None
        await _remove_field(row, actor)
    return row


async def _remove_field(row: ServiceField, actor: str) -> None:
    subject = await _field_subject(row.service, row.code)
    await row.remove()
    await audit(actor, "field_reports.field.delete", subject, _field_facts(row), None)


async def _existing(table: Any, row_id: int | None) -> Any:
    """The row to change (Missing when it is gone), or None for a new one."""
    if row_id is None:
        return None
    row = await table.objects().get(table.id == row_id)
    if row is None:
        raise Missing(gettext("It no longer exists."))
    return row


async def _field_of(service_id: int, field_id: int | None) -> ServiceField | None:
    if field_id is None:
        return None
    row = await ServiceField.objects().get(
        (ServiceField.id == field_id) & (ServiceField.service == service_id)
    )
    if row is None:
        raise Missing(gettext("It no longer exists."))
    return row


async def _taken(table: Any, code: str, row_id: int | None) -> bool:
    query = table.exists().where(table.code == code)
    if row_id is not None:
        query = query.where(table.id != row_id)
    return bool(await query)


async def _reference(table: Any, code: str | None, key: str, errors: dict[str, str]) -> int | None:
    """The id of the row with this code (a group, a department); None for none or unknown."""
    if key in errors:
        return None
    found = await code_to_id(table, code)
    if code is not None and found is None:
        errors[key] = gettext("No %(code)s: choose from the list.") % {"code": code}
    return found
