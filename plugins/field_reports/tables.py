"""Citizen reports: the services (categories) offered to citizens with their custom fields, and
what a report adds to its incident (Open311 token, attributes, contact, rating, moderation)."""

from __future__ import annotations

from piccolo.columns import JSON, Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from ioc_core.auth.tables import ApiKey
from ioc_core.incidents.tables import Category, Incident

# The GeoReport v2 attribute datatypes.
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")


class ServiceGroup(Table, tablename="fr_group"):
    """A heading citizens pick a service under (Open311 `group`)."""

    code = Varchar(length=64, unique=True)
    name_vi = Varchar(length=200)
    name_en = Varchar(length=200, default="")
    position = Integer(default=0)


class Service(Table, tablename="fr_service"):
    """How a core category is offered to citizens: one row per category that is a service."""

    category = ForeignKey(Category, null=False, unique=True, on_delete=OnDelete.restrict)
    group = ForeignKey(ServiceGroup, null=True, default=None, on_delete=OnDelete.restrict)
    description_vi = Text(default="")
    description_en = Text(default="")
    keywords = Varchar(length=500, default="")
    # Offered in the portal and Open311; a withdrawn service keeps its reports.
    public = Boolean(default=True)
    # A new report this close to an open one of the same service, this soon, may be the same.
    duplicate_radius_m = Integer(default=50)
    duplicate_window_h = Integer(default=72)
    position = Integer(default=0)


class ServiceField(Table, tablename="fr_field"):
    """A custom field of a service: an Open311 attribute."""

    service = ForeignKey(Service, null=False, index=True, on_delete=OnDelete.restrict)
    code = Varchar(length=64)
    datatype = Varchar(length=16)
    required = Boolean(default=False)
    position = Integer(default=0)
    label_vi = Varchar(length=300)
    label_en = Varchar(length=300, default="")
    help_vi = Text(default="")
    help_en = Text(default="")
    # For the list types: [{"key": "...", "name_vi": "...", "name_en": "..."}].
    options = JSON(default=[])


class Report(Table, tablename="fr_report"):
    """What a citizen report adds to its incident."""

    incident = ForeignKey(Incident, null=False, unique=True, on_delete=OnDelete.restrict)
    # Open311's token: the answer to a POST before the request has its id (ours has it at once).
    token = Varchar(length=64, unique=True)
    channel = Varchar(length=16, default="portal")
    api_key = ForeignKey(ApiKey, null=True, default=None, on_delete=OnDelete.restrict)
    attributes = JSON(default={})
    email = Varchar(length=254, default="", secret=True)
    phone = Varchar(length=32, default="", secret=True)
    account_id = Varchar(length=64, default="")
    device_id = Varchar(length=128, default="")
    media_url = Varchar(length=500, default="")
    rating = Integer(null=True, default=None)
    rating_comment = Text(default="")
    rated_at = Timestamptz(null=True, default=None)
    reopen_count = Integer(default=0)
    # Moderation: a hidden report is not shown to the public (the incident goes on).
    hidden = Boolean(default=False)
    created_at = Timestamptz()


class IntakeAttempt(Table, tablename="fr_intake_attempt"):
    """Recent submissions per client (address or API key): the public intake's rate limit."""

    client = Varchar(length=128, index=True)
    at = Timestamptz(index=True)
