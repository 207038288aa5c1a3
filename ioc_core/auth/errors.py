"""Errors a person can act on, raised by the auth services and shown by the UI and the CLI."""

from ioc_core.i18n import gettext


class AuthError(ValueError):
    """Bad input to an auth action; the message, in the current language, says what to change."""


class FormError(AuthError):
    """Several fields are wrong; `errors` maps each field to what to change."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class TooManyAttempts(Exception):
    def __init__(self, retry_after_s: int) -> None:
        minutes = max(1, round(retry_after_s / 60))
        message = gettext("Too many failed sign-ins. Try again in %(minutes)s minutes.")
        super().__init__(message % {"minutes": minutes})
        self.retry_after_s = retry_after_s
