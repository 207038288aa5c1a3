"""In-app notifications and the messages waiting to go out through a channel."""

from __future__ import annotations

from piccolo.columns import JSON, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from ioc_core.auth.tables import User

KIND_MAX = 64
LINK_MAX = 500
CHANNEL_MAX = 32
ADDRESS_MAX = 254
ERROR_MAX = 500

# Both tables keep the kind and its parameters, not the words: the words are made when read
# (in the viewer's language) or sent (in the recipient's), by the plugin that owns the kind.


class Notification(Table, tablename="notification"):
    """One line under a user's bell. Indexes "unread of a user" and "newest of a user" are made
    by a migration: Piccolo declares single-column indexes only."""

    user = ForeignKey(User, null=False, on_delete=OnDelete.restrict)
    created_at = Timestamptz()
    kind = Varchar(length=KIND_MAX)
    params = JSON(default={})
    link = Varchar(length=LINK_MAX, default="")
    read_at = Timestamptz(null=True, default=None)


class OutboundMessage(Table, tablename="outbound_message"):
    """A message to one address through one channel ("email", or a plugin's "sms"), sent by a
    worker outside any database transaction.

    Pending: neither sent nor given up, and `claimed_until` empty or past. A sender claims a
    message by setting `claimed_until` (its lease); a failed send sets it to the time of the
    next try."""

    channel = Varchar(length=CHANNEL_MAX)
    address = Varchar(length=ADDRESS_MAX, secret=True)
    language = Varchar(length=8, default="vi")
    kind = Varchar(length=KIND_MAX)
    params = JSON(default={})
    link = Varchar(length=LINK_MAX, default="")
    created_at = Timestamptz()
    claimed_until = Timestamptz(null=True, default=None)
    sent_at = Timestamptz(null=True, default=None)
    # Set when the message will never be tried again (no such channel, too many failures).
    failed_at = Timestamptz(null=True, default=None)
    attempts = Integer(default=0)
    last_error = Varchar(length=ERROR_MAX, default="")
