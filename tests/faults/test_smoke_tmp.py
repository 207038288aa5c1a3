import httpx
from tests.faults.platform import FAULT_MARKS, Platform

pytestmark = FAULT_MARKS


def test_up(platform: Platform) -> None:
    platform.serve()
    with httpx.Client(timeout=10) as client:
        r = platform.report(client, "a@example.vn")
    assert r.status_code in (200, 201), r.text + platform.process_logs()
    print(r.text)
