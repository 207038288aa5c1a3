"""Discovery through real entry points, dependency order, and broken plugins skipped."""

from pathlib import Path
from types import ModuleType

import pytest
from litestar import get
from litestar.testing import TestClient

from ioc_core.hookspecs import hookimpl
from ioc_core.plugins.registry import load_plugins
from ioc_core.plugins.spec import MenuItem, Permission, PluginSpec
from ioc_core.settings import Settings
from ioc_core.web.app import create_app

BUILTINS = ("core", "auth", "incidents", "notifications", "health", "portal", "admin", "sla")


def plugin_module(name: str, **spec: object) -> ModuleType:
    module = ModuleType(f"test_plugin_{name}")
    module.SPEC = PluginSpec(name=name, title_vi=name, title_en=name, version="1.0", **spec)
    return module


@pytest.fixture
def plain_settings(tmp_path: Path) -> Settings:
    return Settings.load({"IOC_VAR_DIR": str(tmp_path)})


def test_entry_points_found_and_ordered(plain_settings: Settings, sample_plugins: Path) -> None:
    registry = load_plugins(plain_settings)
    names = list(registry.plugins)
    assert names[: len(BUILTINS)] == [*BUILTINS], "built-ins come first"
    assert names.index("sample_reports") < names.index("sample_addon")
    loaded = registry.plugins["sample_reports"]
    assert loaded.origin == "ioc-sample-plugins (entry point)"
    assert loaded.spec.version == "1.2.0"
    assert registry.hooks_of("sample_reports") == [
        "cli_commands",
        "on_disable",
        "on_enable",
        "route_handlers",
        "tasks",
    ]


def test_broken_and_incompatible_plugins_are_reported_not_fatal(
    plain_settings: Settings, sample_plugins: Path
) -> None:
    registry = load_plugins(plain_settings)
    reasons = {b.name: b.reason for b in registry.broken}
    assert reasons["sample_broken"] == "RuntimeError: this sample plugin is broken on purpose"
    assert reasons["sample_future"] == "needs core >=99, this core is 0.1.0"
    assert "sample_broken" not in registry.plugins
    with TestClient(create_app(plain_settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}


def test_allow_list_limits_third_party_plugins(tmp_path: Path, sample_plugins: Path) -> None:
    settings = Settings.load({"IOC_VAR_DIR": str(tmp_path), "IOC_PLUGINS": "sample_reports,ghost"})
    registry = load_plugins(settings)
    assert list(registry.plugins) == [*BUILTINS, "sample_reports"]
    assert [(b.name, b.reason) for b in registry.broken] == [
        ("ghost", "listed in IOC_PLUGINS but not installed")
    ]


def test_missing_requirement_and_cycle_are_refused(plain_settings: Settings) -> None:
    orphan = plugin_module("orphan", requires=("nowhere",))
    child = plugin_module("child", requires=("orphan",))
    ping = plugin_module("ping", requires=("pong",))
    pong = plugin_module("pong", requires=("ping",))
    fine = plugin_module("fine")
    registry = load_plugins(plain_settings, extra=[orphan, child, ping, pong, fine])
    # The bundled field_reports (this package's own entry point) is installed too; in
    # dependency order it comes after `fine`, which requires nothing.
    assert list(registry.plugins) == [*BUILTINS, "fine", "field_reports"]
    reasons = {b.name: b.reason for b in registry.broken}
    assert reasons["orphan"] == "requires nowhere, not loaded"
    assert reasons["child"] == "requires orphan, not loaded"
    assert reasons["ping"].startswith("requirement cycle: ")
    assert "pong" in reasons


def test_unknown_hook_is_refused(plain_settings: Settings) -> None:
    module = plugin_module("typo")

    @hookimpl
    def route_handler() -> list[object]:  # misspelt: the hook is route_handlers
        return []

    module.route_handler = route_handler
    registry = load_plugins(plain_settings, extra=[module])
    assert "typo" not in registry.plugins
    assert registry.broken[-1].reason == "implements 'route_handler', which is not an ioc hook"


def test_one_manager_per_app_instance(plain_settings: Settings) -> None:
    extra = plugin_module("only_here")
    with_extra = load_plugins(plain_settings, extra=[extra])
    without = load_plugins(plain_settings)
    assert "only_here" in with_extra.plugins
    assert "only_here" not in without.plugins
    assert with_extra.manager is not without.manager


def test_route_without_access_declaration_refuses_the_plugin(plain_settings: Settings) -> None:
    module = plugin_module("leaky")
    dependent = plugin_module("leaky_child", requires=("leaky",))

    @get("/leaky", sync_to_thread=False)
    def leaky_route() -> str:
        return "open to anyone by accident"

    @hookimpl
    def route_handlers() -> list[object]:
        return [leaky_route]

    module.route_handlers = route_handlers
    app = create_app(plain_settings, extra_plugins=[module, dependent])
    registry = app.state.runtime.registry
    assert "leaky" not in registry.plugins and "leaky_child" not in registry.plugins
    reasons = {b.name: b.reason for b in registry.broken}
    assert reasons["leaky"] == "routes without 'public' or 'permission' in opt: GET /leaky"
    assert reasons["leaky_child"] == "requires leaky, which was refused"
    assert all(route.path != "/leaky" for route in app.routes)


def test_required_settings_and_defaults(tmp_path: Path) -> None:
    def needy() -> ModuleType:
        return plugin_module(
            "needy", required_settings=("api_token",), default_settings={"radius_m": 50}
        )

    bare = Settings.load({"IOC_VAR_DIR": str(tmp_path)})
    registry = load_plugins(bare, extra=[needy()])
    assert "needy" not in registry.plugins
    assert registry.broken[-1].reason == (
        "needs settings api_token: set them under [plugin.needy] in the file named by IOC_CONFIG"
    )

    config = tmp_path / "ioc.toml"
    config.write_text('[plugin.needy]\napi_token = "t0k3n"\nradius_m = 80\n')
    configured = Settings.load({"IOC_VAR_DIR": str(tmp_path), "IOC_CONFIG": str(config)})
    registry = load_plugins(configured, extra=[needy()])
    assert registry.plugin_settings("needy") == {"api_token": "t0k3n", "radius_m": 80}
    config.write_text('[plugin.needy]\napi_token = "t0k3n"\n')
    defaults = Settings.load({"IOC_VAR_DIR": str(tmp_path), "IOC_CONFIG": str(config)})
    assert load_plugins(defaults, extra=[needy()]).plugin_settings("needy")["radius_m"] == 50


def test_route_naming_an_undeclared_permission_refuses_the_plugin(
    plain_settings: Settings,
) -> None:
    module = plugin_module("typo", permissions=(Permission("typo.view", "xem", "view"),))

    @get("/typo", opt={"permission": "typo.veiw"}, sync_to_thread=False)
    def typo_route() -> str:
        return "guarded by a permission no role can ever hold"

    @hookimpl
    def route_handlers() -> list[object]:
        return [typo_route]

    module.route_handlers = route_handlers
    app = create_app(plain_settings, extra_plugins=[module])
    reasons = {b.name: b.reason for b in app.state.runtime.registry.broken}
    assert reasons["typo"] == (
        "routes naming a permission no plugin declares: GET /typo (typo.veiw)"
    )


def test_a_menu_item_names_a_known_placement() -> None:
    assert MenuItem("Gửi phản ánh", "Report", "/report", placement="public").placement == "public"
    with pytest.raises(ValueError, match="placement must be one of"):
        MenuItem("Sai", "Wrong", "/x", placement="sidebar")
