"""The web server's access log without personal data: no client address, no query string.

A query string can carry a citizen's tracking token (`/track/PT-…?token=`) or a search for a
person's name, and a client address identifies a citizen's phone; neither belongs in a log that
operators copy around. Rate limits keep addresses in the database for their window instead.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG


class AccessLogPrivacy(logging.Filter):
    """Rewrites uvicorn's access records: `(client, method, path?query, version, status)`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 5:
            _, method, full_path, version, status = record.args
            record.args = ("-", method, str(full_path).split("?", 1)[0], version, status)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with the access log filtered."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["privacy"] = {"()": AccessLogPrivacy}
    config["handlers"]["access"]["filters"] = ["privacy"]
    return config
