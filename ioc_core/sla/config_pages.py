"""Staff pages that configure routing rules, SLA targets and the working calendar.

Routing rules, SLA targets and calendar days are edited alike (a form to add, the same form to
change, a confirmation to delete): an `Editor` describes each kind and `_editor_routes` makes
its handlers. The lists and the calendar page differ and stand alone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Response
from piccolo.table import Table

from ioc_core.auth.departments import department_tree
from ioc_core.auth.errors import AuthError
from ioc_core.i18n import TIMEZONE, current_language, gettext
from ioc_core.incidents.tables import Area, Category
from ioc_core.incidents.workflow import PRIORITIES, priority_labels
from ioc_core.sla import config
from ioc_core.sla.calendar import LUNAR_HOLIDAYS
from ioc_core.sla.tables import CalendarDay, RoutingRule, SlaTarget
from ioc_core.web.forms import acting, done, errors_of, form_of, refusal
from ioc_core.web.pages import page

PERMISSION = {"permission": "sla.configure"}
HOME = "/sla/settings"
ROUTING = "/sla/settings/routing"
TARGETS = "/sla/settings/targets"
CALENDAR = "/sla/settings/calendar"
DAYS = "/sla/settings/calendar/days"


@dataclass
class Names:
    """Labels by id in the interface's language, in the order a select box lists them; only
    the kinds a page asked for are filled."""

    category: dict[int, str] = field(default_factory=dict)
    area: dict[int, str] = field(default_factory=dict)
    # Departments in tree order, with their depth, so a select box shows who reports to whom.
    department: dict[int, str] = field(default_factory=dict)
    depth: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Editor:
    """One kind of row, added and changed through one form and deleted after a confirmation."""

    path: str
    back: str
    table: type[Table]
    template: str
    names: Collection[str]
    save: Callable[[Mapping[str, str], str, int | None], Awaitable[Any]]
    delete: Callable[[int, str], Awaitable[Any]]
    # A stored row as the form's text values.
    form_values: Callable[[dict[str, Any]], dict[str, str]]
    blank: Mapping[str, str]
    describe: Callable[[dict[str, Any], Names], str]
    # Where the browser goes once a row (the saved or deleted Table instance) is done.
    after: Callable[[Any], str]
    # Messages translated when asked: missing, saved, deleted, question.
    texts: Callable[[], dict[str, str]]


# Overview


@get(HOME, opt=PERMISSION, include_in_schema=False)
async def settings_home(request: Request[Any, Any, Any]) -> Response[str]:
    year = _today().year
    counts = {
        "rules": await RoutingRule.count(),
        "targets": await SlaTarget.count(),
        "days": await CalendarDay.count().where(*_within(year)),
    }
    return await page(request, "sla/config_home.html", {"counts": counts, "year": year})


# Routing rules


@get(ROUTING, opt=PERMISSION, include_in_schema=False)
async def routing_list(request: Request[Any, Any, Any]) -> Response[str]:
    names = await _names(("category", "area", "department"))
    rows = await RoutingRule.select(
        RoutingRule.id, RoutingRule.category, RoutingRule.area, RoutingRule.department
    )
    # Specific rules first, the catch-all last: the order in which they win.
    rows.sort(
        key=lambda r: (
            *_any_last(names.category, r["category"]),
            *_any_last(names.area, r["area"]),
        )
    )
    return await page(request, "sla/config_routing.html", {"rows": rows, "names": names})


def _rule_values(row: dict[str, Any]) -> dict[str, str]:
    return {key: _text(row[key]) for key in ("category", "area", "department")}


def _rule_text(row: dict[str, Any], names: Names) -> str:
    category = names.category.get(row["category"]) or gettext("Any category")
    area = names.area.get(row["area"]) or gettext("Any area")
    return f"{category} · {area} → {names.department.get(row['department'], '')}"


RULES_EDITOR = Editor(
    path=ROUTING,
    back=ROUTING,
    table=RoutingRule,
    template="sla/config_rule_form.html",
    names=("category", "area", "department"),
    save=config.save_routing_rule,
    delete=config.delete_routing_rule,
    form_values=_rule_values,
    blank={},
    describe=_rule_text,
    after=lambda _: ROUTING,
    texts=lambda: {
        "missing": gettext("No such routing rule."),
        "saved": gettext("Routing rule saved."),
        "deleted": gettext("Routing rule deleted."),
        "question": gettext("Delete this routing rule?"),
    },
)


# SLA targets


@get(TARGETS, opt=PERMISSION, include_in_schema=False)
async def targets_list(request: Request[Any, Any, Any]) -> Response[str]:
    names = await _names(("category",))
    rows = await SlaTarget.select(
        SlaTarget.id, SlaTarget.category, SlaTarget.priority, SlaTarget.hours, SlaTarget.warn_hours
    )
    rank = {p: i for i, p in enumerate(PRIORITIES)}
    rows.sort(
        key=lambda r: (*_any_last(names.category, r["category"]), rank.get(r["priority"], 99))
    )
    context = {"rows": rows, "names": names, "priorities": priority_labels()}
    return await page(request, "sla/config_targets.html", context)


def _target_values(row: dict[str, Any]) -> dict[str, str]:
    return {
        "category": _text(row["category"]),
        "priority": row["priority"],
        "hours": f"{row['hours']:g}",
        "warn_hours": f"{row['warn_hours']:g}",
    }


def _target_text(row: dict[str, Any], names: Names) -> str:
    category = names.category.get(row["category"]) or gettext("Any category")
    priority = priority_labels().get(row["priority"]) or gettext("Any priority")
    hours = gettext("%(hours)s working hours") % {"hours": f"{row['hours']:g}"}
    return f"{category} · {priority}: {hours}"


TARGETS_EDITOR = Editor(
    path=TARGETS,
    back=TARGETS,
    table=SlaTarget,
    template="sla/config_target_form.html",
    names=("category",),
    save=config.save_sla_target,
    delete=config.delete_sla_target,
    form_values=_target_values,
    blank={},
    describe=_target_text,
    after=lambda _: TARGETS,
    texts=lambda: {
        "missing": gettext("No such SLA target."),
        "saved": gettext("SLA target saved."),
        "deleted": gettext("SLA target deleted."),
        "question": gettext("Delete this SLA target?"),
    },
)


# The calendar: a year's special days, the weekly office hours, the default holidays


@get(CALENDAR, opt=PERMISSION, include_in_schema=False)
async def calendar_page(request: Request[Any, Any, Any]) -> Response[str]:
    return await _calendar_page(request, _year(request.query_params.get("year", "")))


@post(CALENDAR + "/hours", opt=PERMISSION, include_in_schema=False)
async def office_hours_save(request: Request[Any, Any, Any]) -> Response[Any]:
    """Fields `hours_0` (Monday) to `hours_6`; a weekday whose field is absent is left alone."""
    values, _ = await form_of(request)
    texts = {d: values[f"hours_{d}"] for d in config.WEEKDAYS if f"hours_{d}" in values}
    year = _year(values.get("year", ""))
    try:
        await config.replace_office_hours(texts, acting(request).actor)
    except AuthError as exc:
        return await _calendar_page(request, year, errors_of(exc), texts)
    return await done(request, gettext("Office hours saved."), f"{CALENDAR}?year={year}")


@post(CALENDAR + "/holidays", opt=PERMISSION, include_in_schema=False)
async def default_holidays_add(request: Request[Any, Any, Any]) -> Response[Any]:
    values, _ = await form_of(request)
    text = values.get("year", "")
    # Anything but a year number is refused by the service with the accepted range.
    year = int(text) if text.isascii() and text.isdigit() and len(text) <= 4 else 0
    try:
        added = await config.add_default_holidays(year, acting(request).actor)
    except AuthError as exc:
        return await _calendar_page(request, _year(text), errors_of(exc))
    if added:
        message = gettext("%(count)s public holidays of %(year)s added.")
    else:
        message = gettext("The public holidays of %(year)s were already in the calendar.")
    target = f"{CALENDAR}?year={year}"
    return await done(request, message % {"count": added, "year": year}, target)


async def _calendar_page(
    request: Request[Any, Any, Any],
    year: int,
    errors: dict[str, str] | None = None,
    hours_entered: Mapping[int, str] | None = None,
) -> Response[str]:
    days = await CalendarDay.select().where(*_within(year)).order_by(CalendarDay.day)
    week = await config.office_week()
    hours = {d: config.format_periods(week[d]) for d in config.WEEKDAYS}
    hours.update(hours_entered or {})
    context = {
        "year": year,
        "first_year": config.FIRST_YEAR,
        "last_year": config.LAST_YEAR,
        "days": days,
        "hours": hours,
        "weekdays": _weekdays(),
        # Tết and the Hùng Kings' day move every year; the defaults hold only announced years.
        "lunar_known": year in LUNAR_HOLIDAYS,
        "errors": errors or {},
    }
    status = 422 if errors else 200
    return await page(request, "sla/config_calendar.html", context, status_code=status)


def _day_values(row: dict[str, Any]) -> dict[str, str]:
    working = "1" if row["working"] else "0"
    return {"day": row["day"].isoformat(), "working": working, "name": row["name"]}


def _day_text(row: dict[str, Any], _: Names) -> str:
    return f"{row['day']:%d/%m/%Y} · {row['name']}"


DAYS_EDITOR = Editor(
    path=DAYS,
    back=CALENDAR,
    table=CalendarDay,
    template="sla/config_day_form.html",
    names=(),
    save=config.save_calendar_day,
    delete=config.delete_calendar_day,
    form_values=_day_values,
    blank={"working": "0"},
    describe=_day_text,
    after=lambda row: f"{CALENDAR}?year={row.day.year}",
    texts=lambda: {
        "missing": gettext("No such calendar day."),
        "saved": gettext("Calendar day saved."),
        "deleted": gettext("Calendar day deleted."),
        "question": gettext("Delete this calendar day?"),
    },
)


def _within(year: int) -> tuple[Any, Any]:
    return CalendarDay.day >= dt.date(year, 1, 1), CalendarDay.day <= dt.date(year, 12, 31)


def _year(text: str) -> int:
    """The year asked for, or this year when the text is none in the calendar's range."""
    if text.isascii() and text.isdigit() and config.FIRST_YEAR <= int(text) <= config.LAST_YEAR:
        return int(text)
    return _today().year


def _today() -> dt.date:
    return dt.datetime.now(TIMEZONE).date()


# The shared add, change and delete handlers


def _editor_routes(editor: Editor) -> list[Any]:
    one = editor.path + "/{row_id:int}"

    @get(editor.path + "/new", opt=PERMISSION, include_in_schema=False)
    async def new(request: Request[Any, Any, Any]) -> Response[str]:
        return await _form_page(request, editor, None, editor.blank)

    @post(editor.path + "/new", opt=PERMISSION, include_in_schema=False)
    async def create(request: Request[Any, Any, Any]) -> Response[Any]:
        return await _save(request, editor, None)

    @get(one, opt=PERMISSION, include_in_schema=False)
    async def edit(request: Request[Any, Any, Any], row_id: FromPath[int]) -> Response[str]:
        row = await editor.table.select().where(editor.table.id == row_id).first()
        if row is None:
            return await refusal(request, editor.texts()["missing"], 404, editor.back)
        return await _form_page(request, editor, row_id, editor.form_values(row))

    @post(one, opt=PERMISSION, include_in_schema=False)
    async def update(request: Request[Any, Any, Any], row_id: FromPath[int]) -> Response[Any]:
        return await _save(request, editor, row_id)

    @get(one + "/delete", opt=PERMISSION, include_in_schema=False)
    async def confirm(request: Request[Any, Any, Any], row_id: FromPath[int]) -> Response[str]:
        row = await editor.table.select().where(editor.table.id == row_id).first()
        if row is None:
            return await refusal(request, editor.texts()["missing"], 404, editor.back)
        context = {
            "question": editor.texts()["question"],
            "what": editor.describe(row, await _names(editor.names)),
            "action": f"{editor.path}/{row_id}/delete",
            "back": editor.back,
        }
        return await page(request, "confirm_delete.html", context)

    @post(one + "/delete", opt=PERMISSION, include_in_schema=False)
    async def remove(request: Request[Any, Any, Any], row_id: FromPath[int]) -> Response[Any]:
        try:
            row = await editor.delete(row_id, acting(request).actor)
        except config.Missing:
            return await refusal(request, editor.texts()["missing"], 404, editor.back)
        return await done(request, editor.texts()["deleted"], editor.after(row))

    return [new, create, edit, update, confirm, remove]


async def _save(
    request: Request[Any, Any, Any], editor: Editor, row_id: int | None
) -> Response[Any]:
    values, _ = await form_of(request)
    try:
        row = await editor.save(values, acting(request).actor, row_id)
    except config.Missing:
        return await refusal(request, editor.texts()["missing"], 404, editor.back)
    except AuthError as exc:
        return await _form_page(request, editor, row_id, values, errors_of(exc))
    return await done(request, editor.texts()["saved"], editor.after(row))


async def _form_page(
    request: Request[Any, Any, Any],
    editor: Editor,
    row_id: int | None,
    values: Mapping[str, str],
    errors: dict[str, str] | None = None,
) -> Response[str]:
    context = {
        "row_id": row_id,
        "action": f"{editor.path}/{'new' if row_id is None else row_id}",
        "back": editor.back,
        "values": values,
        "errors": errors or {},
        "names": await _names(editor.names),
        "priorities": priority_labels(),
    }
    status = 422 if errors else 200
    return await page(request, editor.template, context, status_code=status)


# Names and labels


async def _names(kinds: Collection[str]) -> Names:
    english = current_language.get() == "en"

    def label(row: dict[str, Any]) -> str:
        return str(row["name_en"] if english and row["name_en"] else row["name_vi"])

    names = Names()
    if "category" in kinds:
        categories = await Category.select(Category.id, Category.name_vi, Category.name_en)
        names.category = _by_label({r["id"]: label(r) for r in categories})
    if "area" in kinds:
        areas = await Area.select(Area.id, Area.name_vi, Area.name_en, Area.valid_to)
        names.area = _by_label({r["id"]: _area_label(label(r), r["valid_to"]) for r in areas})
    if "department" in kinds:
        tree = await department_tree()
        names.department = {r["id"]: label(r) for r in tree}
        names.depth = {r["id"]: r["depth"] for r in tree}
    return names


def _area_label(name: str, valid_to: dt.date | None) -> str:
    # Vietnam redrew its wards in 2025: a closed ward and today's may share a name.
    if valid_to is None:
        return name
    return gettext("%(name)s (until %(day)s)") % {"name": name, "day": f"{valid_to:%d/%m/%Y}"}


def _by_label(labels: dict[int, str]) -> dict[int, str]:
    return dict(sorted(labels.items(), key=lambda item: item[1].casefold()))


def _any_last(labels: dict[int, str], value: int | None) -> tuple[bool, str]:
    """A sort key: named values by label, then "any" (None)."""
    if value is None:
        return True, ""
    return False, labels.get(value, "").casefold()


def _text(value: int | None) -> str:
    return "" if value is None else str(value)


def _weekdays() -> list[str]:
    return [
        gettext("Monday"),
        gettext("Tuesday"),
        gettext("Wednesday"),
        gettext("Thursday"),
        gettext("Friday"),
        gettext("Saturday"),
        gettext("Sunday"),
    ]


ROUTES: list[Any] = [
    settings_home,
    routing_list,
    targets_list,
    calendar_page,
    office_hours_save,
    default_holidays_add,
    *_editor_routes(RULES_EDITOR),
    *_editor_routes(TARGETS_EDITOR),
    *_editor_routes(DAYS_EDITOR),
]
