"""The catalog of report services as one YAML or JSON document: groups, services (with their
default department and SLA) and each service's custom fields.

    text = dump(await export_catalog(), "yaml")
    summary = await import_catalog(parse(data, "catalog.yaml"), actor)

An import creates or updates by code and never deletes what the document leaves out. The whole
document is checked before anything is written, every problem named by its place in it
(`services[3].fields[0].datatype`); then everything is written in one transaction and audited.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml

from field_reports import services_admin as admin
from field_reports.tables import Service, ServiceField, ServiceGroup
from ioc_core.auth.errors import FormError
from ioc_core.auth.tables import Department
from ioc_core.clitools import CliError, cli_actor, run_async
from ioc_core.db.audit import audit
from ioc_core.i18n import gettext

FORMAT = "ioc-field-reports-catalog"
VERSION = 1
FORMATS = ("yaml", "json")
MEDIA_TYPES = {"yaml": "application/yaml", "json": "application/json"}
TOP_KEYS = frozenset({"format", "version", "groups", "services"})
SERVICE_KEYS = admin.keys_of(admin.ServiceValues) | {"fields"}


class CatalogError(FormError):
    """The document cannot be imported; `errors` maps each place in it ("" for the whole
    document) to what is wrong there."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        # One line, each problem with its place: what the command line prints.
        self.args = ("; ".join(f"{k}: {v}" if k else v for k, v in errors.items()),)


@dataclass
class Summary:
    """How many rows of each kind an import created, updated, or found as they were."""

    counts: dict[str, Counter[str]] = field(
        default_factory=lambda: {kind: Counter() for kind in ("groups", "services", "fields")}
    )

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {kind: dict(sorted(count.items())) for kind, count in self.counts.items()}

    def text(self) -> str:
        parts = []
        for kind, label in (
            ("groups", gettext("groups")),
            ("services", gettext("services")),
            ("fields", gettext("fields")),
        ):
            count = self.counts[kind]
            parts.append(
                gettext("%(kind)s: %(created)s created, %(updated)s updated, %(same)s unchanged")
                % {
                    "kind": label,
                    "created": count["created"],
                    "updated": count["updated"],
                    "same": count["unchanged"],
                }
            )
        return "; ".join(parts)


# Export


async def export_catalog() -> dict[str, Any]:
    groups = await ServiceGroup.select().order_by(ServiceGroup.position, ServiceGroup.code)
    services = await Service.select(Service.id).order_by(Service.position, Service.category.code)
    fields = await (
        ServiceField.select()
        .order_by(ServiceField.position)
        .order_by(ServiceField.id)
        .output(load_json=True)
    )
    documented = []
    for service in services:
        values = await admin.service_values(service["id"])
        assert values is not None
        item = _ordered(admin.ServiceValues, values)
        item["fields"] = [
            _ordered(admin.FieldValues, f) for f in fields if f["service"] == service["id"]
        ]
        documented.append(item)
    return {
        "format": FORMAT,
        "version": VERSION,
        "groups": [_ordered(admin.GroupValues, g) for g in groups],
        "services": documented,
    }


def _ordered(kind: type[Any], facts: Mapping[str, Any]) -> dict[str, Any]:
    """The values of one item in the order its kind declares them: a stable, readable file."""
    return {f.name: facts[f.name] for f in dataclasses.fields(kind)}


def dump(document: Mapping[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    return yaml.safe_dump(dict(document), allow_unicode=True, sort_keys=False, width=100)


# Import


def parse(data: bytes | str, name: str = "") -> Any:
    """The document in `data`: JSON or YAML by the file name's extension, else by its first
    character (a JSON document starts with `{`)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CatalogError({"": gettext("The file is not UTF-8 text.")}) from None
    suffix = Path(name).suffix.lower()
    as_json = suffix == ".json" or (
        suffix not in (".yaml", ".yml") and data.lstrip().startswith("{")
    )
    try:
        if as_json:
            return json.loads(data)
        return yaml.safe_load(data)
    except RecursionError:
        # Lists or mappings nested thousands deep: no catalog looks like that.
        problem = gettext("The file is nested too deeply to be a catalog.")
        raise CatalogError({"": problem}) from None
    except json.JSONDecodeError as exc:
        where = {"line": exc.lineno, "column": exc.colno}
        raise CatalogError({"": _unreadable("JSON", where, exc.msg)}) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = {"line": mark.line + 1, "column": mark.column + 1} if mark else None
        problem = str(getattr(exc, "problem", None) or exc).splitlines()[0]
        raise CatalogError({"": _unreadable("YAML", where, problem)}) from None


def _unreadable(kind: str, where: dict[str, int] | None, problem: str) -> str:
    if where is None:
        return gettext("Not valid %(kind)s: %(problem)s.") % {"kind": kind, "problem": problem}
    return gettext("Not valid %(kind)s at line %(line)s, column %(column)s: %(problem)s.") % {
        "kind": kind,
        "problem": problem,
        **where,
    }


@dataclass
class _Checked:
    groups: list[admin.GroupValues] = field(default_factory=list)
    services: list[tuple[str, admin.ServiceValues, list[admin.FieldValues]]] = field(
        default_factory=list
    )


async def import_catalog(document: Any, actor: str) -> Summary:
    """Check the whole document, then create or update every item in it, in one transaction."""
    errors: dict[str, str] = {}
    checked = _check(document, errors)
    summary = Summary()
    async with admin.writing():
        known_groups = {g.code for g in checked.groups} | {
            r["code"] for r in await ServiceGroup.select(ServiceGroup.code)
        }
        departments = {
            r["code"]: r["id"] for r in await Department.select(Department.id, Department.code)
        }
        for path, values, _ in checked.services:
            if values.group is not None and values.group not in known_groups:
                errors[f"{path}.group"] = gettext(
                    "No group %(code)s in the file or the catalog."
                ) % {"code": values.group}
            if values.department is not None and values.department not in departments:
                errors[f"{path}.department"] = gettext("No department %(code)s.") % {
                    "code": values.department
                }
        if errors:
            raise CatalogError(errors)
        for group in checked.groups:
            row = await ServiceGroup.objects().get(ServiceGroup.code == group.code)
            _, outcome = await admin.write_group(group, actor, row)
            summary.counts["groups"][outcome] += 1
        for _, values, fields in checked.services:
            service, outcome = await admin.write_service(
                values,
                actor,
                await Service.objects().where(Service.category.code == values.code).first(),
                await admin.code_to_id(ServiceGroup, values.group),
                departments.get(values.department or ""),
            )
            summary.counts["services"][outcome] += 1
            for spec in fields:
                row = await ServiceField.objects().get(
                    (ServiceField.service == service.id) & (ServiceField.code == spec.code)
                )
                _, outcome = await admin.write_field(spec, actor, service.id, row)
                summary.counts["fields"][outcome] += 1
        await audit(actor, "field_reports.catalog.import", "catalog", None, summary.as_dict())
    return summary


def _check(document: Any, errors: dict[str, str]) -> _Checked:
    """Every item of the document checked as the staff forms check it, errors by path."""
    checked = _Checked()
    if not isinstance(document, Mapping):
        errors[""] = gettext("The file must hold one object with groups and services.")
        return checked
    _unknown(document, TOP_KEYS, errors)
    if document.get("format", FORMAT) != FORMAT:
        errors["format"] = gettext("Expected %(format)s.") % {"format": FORMAT}
    if document.get("version", VERSION) != VERSION:
        errors["version"] = gettext("Only version %(version)s is known.") % {"version": VERSION}
    codes: set[str] = set()
    for path, item in _items(document, "groups", "", errors):
        group, problems = admin.check_group(item)
        _record(path, problems, admin.keys_of(admin.GroupValues), item, errors)
        _once(group.code, codes, path, problems, errors)
        checked.groups.append(group)
    codes = set()
    for path, item in _items(document, "services", "", errors):
        service, problems = admin.check_service(item)
        _record(path, problems, SERVICE_KEYS, item, errors)
        _once(service.code, codes, path, problems, errors)
        field_codes: set[str] = set()
        fields = []
        for field_path, field_item in _items(item, "fields", path, errors):
            spec, field_problems = admin.check_field(field_item)
            _record(
                field_path, field_problems, admin.keys_of(admin.FieldValues), field_item, errors
            )
            _once(spec.code, field_codes, field_path, field_problems, errors)
            fields.append(spec)
        checked.services.append((path, service, fields))
    return checked


def _items(
    parent: Mapping[str, Any], key: str, prefix: str, errors: dict[str, str]
) -> list[tuple[str, Mapping[str, Any]]]:
    """The objects listed under `key`, each with its path."""
    where = f"{prefix}.{key}" if prefix else key
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        errors[where] = gettext("Give a list.")
        return []
    items = []
    for index, item in enumerate(value):
        if isinstance(item, Mapping):
            items.append((f"{where}[{index}]", item))
        else:
            errors[f"{where}[{index}]"] = gettext("Give an object of names and values.")
    return items


def _record(
    path: str,
    problems: dict[str, str],
    allowed: frozenset[str],
    item: Mapping[str, Any],
    errors: dict[str, str],
) -> None:
    _unknown(item, allowed, problems)
    errors.update({f"{path}.{key}": message for key, message in problems.items()})


def _unknown(item: Mapping[str, Any], allowed: frozenset[str], errors: dict[str, str]) -> None:
    # A misspelt name would otherwise be dropped without a word, its value never imported.
    for key in sorted(str(k) for k in item if k not in allowed):
        errors[key] = gettext("Unknown name %(name)s.") % {"name": key}


def _once(
    code: str, seen: set[str], path: str, problems: dict[str, str], errors: dict[str, str]
) -> None:
    if "code" not in problems and code in seen:
        errors[f"{path}.code"] = gettext("The code %(code)s is used twice.") % {"code": code}
    seen.add(code)


# The command line: `ioc reports-catalog export | import`


@click.group("reports-catalog")
def catalog_group() -> None:
    """The services citizens report under, with their fields, as one YAML or JSON file."""


@catalog_group.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="yaml", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout.")
def export_command(fmt: str, output: Path | None) -> None:
    """Write the whole catalog: groups, services with their fields, departments and SLA."""
    text = dump(run_async(export_catalog()), fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{output}: {exc.strerror}") from None
    click.echo(f"catalog written to {output}")


@catalog_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Create or update the groups, services and fields of FILE (YAML or JSON) by their codes;
    what the file leaves out is kept. Nothing is written unless the whole file is valid."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise CliError(f"{file}: {exc.strerror}") from None
    try:
        document = parse(data, file.name)
    except CatalogError as exc:
        raise CliError(f"{file.name}: {exc}") from None
    summary = run_async(import_catalog(document, cli_actor()))
    click.echo(f"{file.name} imported: {summary.text()}")
