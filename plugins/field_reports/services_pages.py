"""Low-code administration of the services citizens report under: groups, services (with their
default department and SLA) and their custom fields, edited in the staff portal; and the whole
catalog downloaded or uploaded as one YAML or JSON file.

Groups, services and fields are edited alike (a form to add, the same form to change, a
confirmation to delete): an `Editor` describes each kind and `_editor_routes` makes its
handlers. Changes go through `services_admin`, so the portal and Open311 use them at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.response import Response

from field_reports import catalog_io
from field_reports import services_admin as admin
from field_reports.tables import DATATYPES, Service, ServiceField, ServiceGroup
from ioc_core.auth.departments import department_tree
from ioc_core.auth.errors import AuthError
from ioc_core.i18n import current_language, gettext
from ioc_core.sla.config import Missing
from ioc_core.web.forms import acting, done, errors_of, form_of, refusal
from ioc_core.web.pages import page

PERMISSION = {"permission": "field_reports.configure"}
HOME = "/field-reports/services"
GROUPS = HOME + "/groups"
CATALOG = HOME + "/catalog"
# A catalog of a few hundred services is well under this.
MAX_UPLOAD_BYTES = 2_000_000

Ids = dict[str, int]


@dataclass(frozen=True)
class Editor:
    """One kind of row, added and changed through one form and deleted after a confirmation.
    `path` may hold the parent's id (`{service_id:int}`); `row` names the row's own id."""

    path: str
    row: str
    template: str
    # The stored row as the form's values (checkboxes as booleans); None when it is gone.
    load: Callable[[Ids], Awaitable[dict[str, Any] | None]]
    blank: Mapping[str, Any]
    checkboxes: tuple[str, ...]
    save: Callable[[Ids, Mapping[str, Any], str], Awaitable[Any]]
    delete: Callable[[Ids, str], Awaitable[Any]]
    # What the form shows besides the values (choices, the parent); Missing when the parent
    # is gone.
    context: Callable[[Ids], Awaitable[dict[str, Any]]]
    describe: Callable[[Mapping[str, Any]], str]
    back: Callable[[Ids], str]
    # Where the browser goes once a row (the saved Table instance) is saved.
    after: Callable[[Ids, Any], str]
    # Messages translated when asked: missing, saved, deleted, question.
    texts: Callable[[], dict[str, str]]


# The overview, the catalog's download and upload


@get(HOME, opt=PERMISSION, include_in_schema=False)
async def services_home(request: Request[Any, Any, Any]) -> Response[str]:
    return await _home(request)


async def _home(
    request: Request[Any, Any, Any], import_errors: dict[str, str] | None = None
) -> Response[str]:
    groups = await ServiceGroup.select().order_by(ServiceGroup.position, ServiceGroup.code)
    services = []
    for row in await Service.select(Service.id).order_by(Service.position, Service.category.code):
        values = await admin.service_values(row["id"])
        assert values is not None
        fields = await ServiceField.count().where(ServiceField.service == row["id"])
        services.append({"id": row["id"], "fields": fields, **values})
    context = {
        "groups": groups,
        "group_names": {g["code"]: _label(g) for g in groups},
        "departments": await _departments(),
        "services": services,
        "import_errors": import_errors or {},
        "max_upload_mb": MAX_UPLOAD_BYTES // 1_000_000,
    }
    status = 422 if import_errors else 200
    return await page(request, "field_reports/admin_services.html", context, status_code=status)


@get(CATALOG, opt=PERMISSION, include_in_schema=False)
async def catalog_download(request: Request[Any, Any, Any]) -> Response[str]:
    fmt = request.query_params.get("format", "yaml")
    if fmt not in catalog_io.FORMATS:
        fmt = "yaml"
    text = catalog_io.dump(await catalog_io.export_catalog(), fmt)
    return Response(
        text,
        media_type=f"{catalog_io.MEDIA_TYPES[fmt]}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="report-services.{fmt}"'},
    )


@post(CATALOG, opt=PERMISSION, include_in_schema=False)
async def catalog_upload(request: Request[Any, Any, Any]) -> Response[Any]:
    """Field `catalog`: a YAML or JSON file, as `ioc reports-catalog export` writes it."""
    upload = (await request.form()).get("catalog")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _home(request, {"": gettext("Choose a YAML or JSON file to import.")})
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        message = gettext("The file is larger than %(mb)s MB.") % {
            "mb": MAX_UPLOAD_BYTES // 1_000_000
        }
        return await _home(request, {"": message})
    try:
        document = catalog_io.parse(data, upload.filename)
        summary = await catalog_io.import_catalog(document, acting(request).actor)
    except AuthError as exc:
        return await _home(request, errors_of(exc))
    message = gettext("%(file)s imported: %(summary)s.") % {
        "file": upload.filename,
        "summary": summary.text(),
    }
    return await done(request, message, HOME)


# Groups


async def _group_values(ids: Ids) -> dict[str, Any] | None:
    return await ServiceGroup.select().where(ServiceGroup.id == ids["group_id"]).first()


GROUPS_EDITOR = Editor(
    path=GROUPS,
    row="group_id",
    template="field_reports/admin_group_form.html",
    load=_group_values,
    blank={"position": "0"},
    checkboxes=(),
    save=lambda ids, raw, actor: admin.save_group(raw, actor, ids.get("group_id")),
    delete=lambda ids, actor: admin.delete_group(ids["group_id"], actor),
    context=lambda ids: _nothing(),
    describe=lambda v: f"{v['code']} · {v['name_vi']}",
    back=lambda ids: HOME,
    after=lambda ids, row: HOME,
    texts=lambda: {
        "missing": gettext("No such group."),
        "saved": gettext("Group saved."),
        "deleted": gettext("Group deleted."),
        "question": gettext("Delete this group?"),
    },
)


async def _nothing() -> dict[str, Any]:
    return {}


# Services


async def _service_context(ids: Ids) -> dict[str, Any]:
    groups = await ServiceGroup.select().order_by(ServiceGroup.position, ServiceGroup.code)
    context: dict[str, Any] = {
        "groups": {g["code"]: _label(g) for g in groups},
        "departments": await _departments(),
        "fields": [],
        "datatypes": datatype_labels(),
    }
    if "service_id" in ids:
        context["fields"] = (
            await ServiceField.select()
            .where(ServiceField.service == ids["service_id"])
            .order_by(ServiceField.position)
            .order_by(ServiceField.id)
        )
    return context


SERVICES_EDITOR = Editor(
    path=HOME,
    row="service_id",
    template="field_reports/admin_service_form.html",
    load=lambda ids: admin.service_values(ids["service_id"]),
    blank={
        "active": True,
        "public": True,
        "duplicate_radius_m": "50",
        "duplicate_window_h": "72",
        "position": "0",
    },
    checkboxes=("active", "public"),
    save=lambda ids, raw, actor: admin.save_service(raw, actor, ids.get("service_id")),
    delete=lambda ids, actor: admin.delete_service(ids["service_id"], actor),
    context=_service_context,
    describe=lambda v: f"{v['code']} · {v['name_vi']}",
    back=lambda ids: HOME,
    after=lambda ids, row: f"{HOME}/{row.id}",
    texts=lambda: {
        "missing": gettext("No such service."),
        "saved": gettext("Service saved."),
        "deleted": gettext("Service deleted."),
        "question": gettext("Delete this service?"),
    },
)


# Custom fields of a service


async def _field_values(ids: Ids) -> dict[str, Any] | None:
    row = await (
        ServiceField.select()
        .where(ServiceField.id == ids["field_id"], ServiceField.service == ids["service_id"])
        .output(load_json=True)
        .first()
    )
    if row is None:
        return None
    lines = [" | ".join(o[k] for k in ("key", "name_vi", "name_en")) for o in row["options"]]
    return row | {"options": "\n".join(lines)}


async def _field_context(ids: Ids) -> dict[str, Any]:
    service = await admin.service_facts(ids["service_id"])
    if service is None:
        raise Missing(gettext("No such service."))
    return {"service": service, "datatypes": datatype_labels()}


FIELDS_EDITOR = Editor(
    path=HOME + "/{service_id:int}/fields",
    row="field_id",
    template="field_reports/admin_field_form.html",
    load=_field_values,
    blank={"datatype": "string", "position": "0"},
    checkboxes=("required",),
    save=lambda ids, raw, actor: admin.save_field(
        ids["service_id"], raw, actor, ids.get("field_id")
    ),
    delete=lambda ids, actor: admin.delete_field(ids["service_id"], ids["field_id"], actor),
    context=_field_context,
    describe=lambda v: f"{v['code']} · {v['label_vi']}",
    back=lambda ids: f"{HOME}/{ids['service_id']}",
    after=lambda ids, row: f"{HOME}/{ids['service_id']}",
    texts=lambda: {
        "missing": gettext("No such field."),
        "saved": gettext("Field saved."),
        "deleted": gettext("Field deleted."),
        "question": gettext("Delete this field? Reports keep the values they were sent with."),
    },
)


def datatype_labels() -> dict[str, str]:
    labels = {
        "string": gettext("Short text"),
        "text": gettext("Long text"),
        "number": gettext("Number"),
        "datetime": gettext("Date and time"),
        "singlevaluelist": gettext("One choice from a list"),
        "multivaluelist": gettext("Several choices from a list"),
    }
    return {d: labels[d] for d in DATATYPES}


# The shared add, change and delete handlers


def _editor_routes(editor: Editor) -> list[Any]:
    one = f"{editor.path}/{{{editor.row}:int}}"

    @get(editor.path + "/new", opt=PERMISSION, include_in_schema=False)
    async def new(request: Request[Any, Any, Any]) -> Response[str]:
        return await _form_page(request, editor, dict(editor.blank))

    @post(editor.path + "/new", opt=PERMISSION, include_in_schema=False)
    async def create(request: Request[Any, Any, Any]) -> Response[Any]:
        return await _save(request, editor)

    @get(one, opt=PERMISSION, include_in_schema=False)
    async def edit(request: Request[Any, Any, Any]) -> Response[str]:
        values = await editor.load(_ids(request))
        if values is None:
            return await _missing(request, editor)
        return await _form_page(request, editor, values)

    @post(one, opt=PERMISSION, include_in_schema=False)
    async def update(request: Request[Any, Any, Any]) -> Response[Any]:
        return await _save(request, editor)

    @get(one + "/delete", opt=PERMISSION, include_in_schema=False)
    async def confirm(request: Request[Any, Any, Any]) -> Response[str]:
        ids = _ids(request)
        values = await editor.load(ids)
        if values is None:
            return await _missing(request, editor)
        context = {
            "question": editor.texts()["question"],
            "what": editor.describe(values),
            "action": request.url.path,
            "back": editor.back(ids),
        }
        return await page(request, "confirm_delete.html", context)

    @post(one + "/delete", opt=PERMISSION, include_in_schema=False)
    async def remove(request: Request[Any, Any, Any]) -> Response[Any]:
        ids = _ids(request)
        try:
            await editor.delete(ids, acting(request).actor)
        except Missing:
            return await _missing(request, editor)
        except AuthError as exc:
            return await refusal(request, str(exc), 409, editor.back(ids))
        return await done(request, editor.texts()["deleted"], editor.back(ids))

    return [new, create, edit, update, confirm, remove]


def _ids(request: Request[Any, Any, Any]) -> Ids:
    return {key: int(value) for key, value in request.path_params.items()}


async def _missing(request: Request[Any, Any, Any], editor: Editor) -> Response[str]:
    return await refusal(request, editor.texts()["missing"], 404, editor.back(_ids(request)))


async def _save(request: Request[Any, Any, Any], editor: Editor) -> Response[Any]:
    ids = _ids(request)
    values, _ = await form_of(request)
    # An unticked checkbox is not sent at all.
    raw: dict[str, Any] = {**values, **{k: k in values for k in editor.checkboxes}}
    try:
        row = await editor.save(ids, raw, acting(request).actor)
    except Missing:
        return await _missing(request, editor)
    except AuthError as exc:
        return await _form_page(request, editor, raw, errors_of(exc))
    return await done(request, editor.texts()["saved"], editor.after(ids, row))


async def _form_page(
    request: Request[Any, Any, Any],
    editor: Editor,
    values: Mapping[str, Any],
    errors: dict[str, str] | None = None,
) -> Response[str]:
    ids = _ids(request)
    try:
        extra = await editor.context(ids)
    except Missing:
        return await _missing(request, editor)
    context = {
        **extra,
        "ids": ids,
        "editing": editor.row in ids,
        "action": request.url.path,
        "back": editor.back(ids),
        "values": {k: _text(v) for k, v in values.items()},
        "errors": errors or {},
    }
    status = 422 if errors else 200
    return await page(request, editor.template, context, status_code=status)


def _text(value: Any) -> Any:
    """A stored value as a form shows it; checkboxes keep their booleans."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return value


def _label(row: Mapping[str, Any]) -> str:
    english = current_language.get() == "en"
    return str(row["name_en"] if english and row["name_en"] else row["name_vi"])


async def _departments() -> dict[str, str]:
    """Department codes to names, in tree order, each indented by its depth."""
    return {r["code"]: "· " * r["depth"] + _label(r) for r in await department_tree()}


ROUTES: list[Any] = [
    services_home,
    catalog_download,
    catalog_upload,
    *_editor_routes(GROUPS_EDITOR),
    *_editor_routes(SERVICES_EDITOR),
    *_editor_routes(FIELDS_EDITOR),
]
