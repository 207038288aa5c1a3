"""Built-in plugin `incidents`: the GIS incident model every subsystem files into."""

from __future__ import annotations

from ioc_core import __version__
from ioc_core.auth.plugin import STAFF_ROLES
from ioc_core.plugins.spec import Permission, PluginSpec

SPEC = PluginSpec(
    name="incidents",
    title_vi="Sự vụ",
    title_en="Incidents",
    version=__version__,
    core_versions=f"=={__version__}",
    permissions=(
        Permission("incidents.view", "Xem sự vụ", "View incidents", STAFF_ROLES),
        Permission(
            "incidents.work",
            "Xử lý sự vụ (trạng thái, ghi chú)",
            "Work incidents (status, comments)",
            ("admin", "leader", "dispatcher", "officer"),
        ),
        Permission(
            "incidents.assign", "Phân công sự vụ", "Assign incidents", ("leader", "dispatcher")
        ),
        Permission("incidents.export", "Xuất dữ liệu sự vụ", "Export incidents", ("leader",)),
    ),
    piccolo_app="ioc_core.incidents.piccolo_app",
    builtin=True,
)
