"""The refusals an API route declares in the OpenAPI schema, in the shape `access.error_page`
answers API clients with (Litestar's own: status code, detail, and what failed validation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi.datastructures import ResponseSpec

DESCRIPTIONS = {
    401: "Not signed in, and no API key",
    403: "The caller lacks the route's permission",
    404: "Nothing at this address",
    503: "A part this process needs does not answer",
}


@dataclass
class Refusal:
    status_code: int
    detail: str
    extra: dict[str, Any] | list[Any] | None = None


def refusals(*codes: int) -> dict[int, ResponseSpec]:
    return {
        code: ResponseSpec(
            data_container=Refusal, description=DESCRIPTIONS[code], generate_examples=False
        )
        for code in codes
    }
