"""Errors a person can act on, raised by the auth services and shown by the UI and the CLI."""


class AuthError(ValueError):
    """Bad input to an auth action; the message says what to change."""


class TooManyAttempts(Exception):
    def __init__(self, retry_after_s: int) -> None:
        minutes = max(1, round(retry_after_s / 60))
        super().__init__(f"Too many failed sign-ins. Try again in {minutes} minutes.")
        self.retry_after_s = retry_after_s
