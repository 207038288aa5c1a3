"""Words of this plugin's own kinds of notification."""

from __future__ import annotations

from typing import Any

from ioc_core.i18n import gettext

TEST_KIND = "notifications.test"


def test_message(params: dict[str, Any]) -> tuple[str, str]:
    return (
        gettext("Test message from the operations center"),
        gettext("E-mail from the operations center reaches this address."),
    )


KINDS = {TEST_KIND: test_message}
