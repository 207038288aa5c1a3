"""What the Open311 routes declare in the platform's OpenAPI schema.

Each route takes the last path segment (`services.json`) and answers JSON or XML by its
extension, which Litestar cannot infer from the handlers: these declarations say which names a
route serves, its query and form fields, and every answer with its body, so that clients (and
the API fuzz in tests/security/) can hold the routes to them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    RequestBody,
    Schema,
)

FORMATS = ("json", "xml")
STRING = Schema(type=OpenAPIType.STRING)
TEXT = Schema(type=[OpenAPIType.STRING, OpenAPIType.NULL])
NUMBER = Schema(type=[OpenAPIType.NUMBER, OpenAPIType.NULL])
OPEN_CLOSED = Schema(type=OpenAPIType.STRING, enum=["open", "closed"])


def _object(fields: Mapping[str, Schema], optional: Sequence[str] = ()) -> Schema:
    return Schema(
        type=OpenAPIType.OBJECT,
        properties=dict(fields),
        required=[name for name in fields if name not in optional],
    )


def _list(item: Schema, *, at_least: int | None = None) -> Schema:
    return Schema(type=OpenAPIType.ARRAY, items=item, min_items=at_least)


# Errors in the spec's format, and the platform's own for a path with no format we serve.
SPEC_ERRORS = _list(
    _object({"code": Schema(type=OpenAPIType.INTEGER), "description": STRING}), at_least=1
)
PLATFORM_ERROR = _object(
    {
        "status_code": Schema(type=OpenAPIType.INTEGER),
        "detail": STRING,
        "extra": Schema(type=[OpenAPIType.OBJECT, OpenAPIType.ARRAY, OpenAPIType.NULL]),
    },
    optional=("extra",),
)
DISCOVERY = _object(
    {
        "changeset": STRING,
        "contact": STRING,
        "key_service": STRING,
        "endpoints": _list(
            _object(
                {
                    "specification": STRING,
                    "url": STRING,
                    "changeset": STRING,
                    "type": STRING,
                    "formats": _list(STRING),
                }
            )
        ),
    }
)
SERVICES = _list(
    _object(
        {
            "service_code": STRING,
            "service_name": STRING,
            "description": TEXT,
            "metadata": Schema(type=OpenAPIType.BOOLEAN),
            "type": Schema(type=OpenAPIType.STRING, enum=["realtime", "batch", "blackbox"]),
            "keywords": TEXT,
            "group": TEXT,
        }
    )
)
SERVICE_DEFINITION = _object(
    {
        "service_code": STRING,
        "attributes": _list(
            _object(
                {
                    "variable": Schema(type=OpenAPIType.BOOLEAN),
                    "code": STRING,
                    "datatype": Schema(
                        type=OpenAPIType.STRING,
                        enum=[
                            "string",
                            "number",
                            "datetime",
                            "text",
                            "singlevaluelist",
                            "multivaluelist",
                        ],
                    ),
                    "required": Schema(type=OpenAPIType.BOOLEAN),
                    "datatype_description": TEXT,
                    "order": Schema(type=OpenAPIType.INTEGER, minimum=1),
                    "description": STRING,
                    "values": _list(_object({"key": STRING, "name": STRING})),
                },
                optional=("values",),
            )
        ),
    }
)
REQUESTS = _list(
    _object(
        {
            "service_request_id": STRING,
            "status": OPEN_CLOSED,
            "status_notes": TEXT,
            "service_name": TEXT,
            "service_code": STRING,
            "description": TEXT,
            "agency_responsible": TEXT,
            "service_notice": TEXT,
            "requested_datetime": TEXT,
            "updated_datetime": TEXT,
            "expected_datetime": TEXT,
            "address": TEXT,
            "address_id": TEXT,
            "zipcode": TEXT,
            "lat": NUMBER,
            "long": NUMBER,
            "media_url": TEXT,
        }
    )
)
UPDATES = _list(
    _object(
        {
            "update_id": STRING,
            "service_request_id": STRING,
            "status": OPEN_CLOSED,
            "updated_datetime": STRING,
            "description": TEXT,
            "media_url": TEXT,
        }
    )
)
TOKENS = _list(_object({"service_request_id": STRING, "token": STRING}))
CREATED = _list(
    _object({"service_request_id": STRING, "service_notice": TEXT, "account_id": TEXT}),
    at_least=1,
)


def _answer(description: str, json_body: Schema) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=description,
        content={
            "application/json": OpenAPIMediaType(schema=json_body),
            "text/xml": OpenAPIMediaType(schema=STRING),
        },
    )


def _refusal(description: str) -> OpenAPIResponse:
    """The spec's error list in the format asked for; a path without one (`requests`, say) is
    answered in the platform's own JSON shape."""
    return _answer(description, Schema(any_of=[SPEC_ERRORS, PLATFORM_ERROR]))


def _names(stems: Sequence[str]) -> Schema:
    return Schema(type=OpenAPIType.STRING, enum=[f"{s}.{f}" for s in stems for f in FORMATS])


def _query(name: str, description: str) -> Parameter:
    return Parameter(name=name, param_in="query", schema=STRING, description=description)


# The last segment that names what is asked for, with its format.
ANY_NAME = Schema(type=OpenAPIType.STRING, pattern=r"^.+\.(json|xml)$")
SEARCH = [
    _query("service_request_id", "requests: ticket codes, comma separated; overrides the rest"),
    _query("service_code", "requests: service codes, comma separated"),
    _query("start_date", "requests, servicerequestupdates: from, e.g. 2026-01-15T08:30:00+07:00"),
    _query("end_date", "requests, servicerequestupdates: until; at most 90 days after start"),
    _query("status", "requests: open or closed, comma separated"),
]
SUBMISSION = Schema(
    type=OpenAPIType.OBJECT,
    properties={
        "api_key": STRING,
        "service_code": STRING,
        "lat": Schema(type=OpenAPIType.NUMBER, minimum=-90, maximum=90),
        "long": Schema(type=OpenAPIType.NUMBER, minimum=-180, maximum=180),
        "address_string": STRING,
        "description": Schema(type=OpenAPIType.STRING, max_length=4000),
        "email": STRING,
        "phone": STRING,
        "first_name": STRING,
        "last_name": STRING,
        "account_id": STRING,
        "device_id": STRING,
        "media_url": STRING,
    },
    # A service's custom fields come as `attribute[CODE]` (see services/{code}).
    pattern_properties={r"^attribute\[[^\[\]]+\](\[\])?$": STRING},
    required=["service_code"],
)

NOT_FOUND = _refusal("No such resource, service, request or token")
BAD = _refusal("A filter or field that cannot be used, with what to send instead")


def _operation(
    name: Schema,
    ok: OpenAPIResponse,
    *,
    status: str = "200",
    query: Sequence[Parameter] = (),
    body: RequestBody | None = None,
    refusals: Mapping[str, OpenAPIResponse] | None = None,
) -> type[Operation]:
    """An Operation that declares what Litestar cannot infer for one Open311 route."""

    @dataclass
    class Open311Operation(Operation):
        def __post_init__(self) -> None:
            self.parameters = [
                Parameter(name="name", param_in="path", schema=name, required=True),
                *query,
            ]
            self.request_body = body
            self.responses = {status: ok, "404": NOT_FOUND, **(refusals or {})}

    return Open311Operation


RESOURCE = _operation(
    _names(("discovery", "services", "requests", "servicerequestupdates")),
    _answer(
        "The discovery document, the services, the requests or the updates the name asks for",
        Schema(any_of=[DISCOVERY, SERVICES, REQUESTS, UPDATES]),
    ),
    query=SEARCH,
    refusals={"400": BAD},
)
SERVICE_DEFINITION_OPERATION = _operation(
    ANY_NAME, _answer("The service's custom fields", SERVICE_DEFINITION)
)
ONE_REQUEST = _operation(ANY_NAME, _answer("The request with this ticket code", REQUESTS))
TOKEN = _operation(ANY_NAME, _answer("The ticket code of the request filed with it", TOKENS))
CREATE = _operation(
    _names(("requests",)),
    _answer("Created: the ticket code of the new request", CREATED),
    status="201",
    body=RequestBody(
        content={"application/x-www-form-urlencoded": OpenAPIMediaType(schema=SUBMISSION)},
        required=True,
    ),
    refusals={
        "400": BAD,
        "401": OpenAPIResponse(
            description="No API key, on a path with no format",
            content={"application/json": OpenAPIMediaType(schema=PLATFORM_ERROR)},
        ),
        "403": _refusal("No valid api_key, or one without the permission field_reports.submit"),
        "429": _refusal("Too many requests from this API key; see Retry-After"),
    },
)
