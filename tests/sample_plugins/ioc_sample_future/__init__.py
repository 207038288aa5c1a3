from ioc_core.plugins.spec import PluginSpec

SPEC = PluginSpec(
    name="sample_future",
    title_vi="Bản tương lai",
    title_en="From the future",
    version="9.0.0",
    core_versions=">=99",
)
