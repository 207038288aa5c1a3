"""Two web processes on one database: enabling or disabling in a third is seen by both."""

import httpx

from tests.processes import ioc, serving


def statuses(bases: list[str], path: str) -> list[int]:
    return [httpx.get(base + path, timeout=10).status_code for base in bases]


def test_plugin_state_reaches_every_process_without_restart(
    subprocess_env: dict[str, str],
) -> None:
    assert ioc("init", env=subprocess_env).returncode == 0
    with serving(subprocess_env) as first, serving(subprocess_env) as second:
        bases = [first, second]
        assert statuses(bases, "/sample-addon/ping") == [404, 404], "installed, not enabled"
        assert statuses(bases, "/sample-reports/count") == [404, 404]

        enabled = ioc("plugins", "enable", "sample_addon", env=subprocess_env)
        assert enabled.stdout.strip() == "enabled: sample_reports, sample_addon", enabled.stderr
        assert statuses(bases, "/sample-addon/ping") == [200, 200]
        assert [httpx.get(b + "/sample-reports/count").json() for b in bases] == [
            {"count": 0},
            {"count": 0},
        ]

        disabled = ioc("plugins", "disable", "sample_addon", env=subprocess_env)
        assert disabled.returncode == 0, disabled.stderr
        assert statuses(bases, "/sample-addon/ping") == [404, 404]
        assert statuses(bases, "/sample-reports/count") == [200, 200]
        assert statuses(bases, "/healthz") == [200, 200], "built-ins are never guarded"
