"""What a CRM call that failed says: whether trying again can help, and when."""

from __future__ import annotations


class CrmError(Exception):
    """A CRM call that did not succeed. `transient`: the same call may succeed later (a rate
    limit, a 5xx, a network error); otherwise a person must fix something (a refused token, a
    missing scope, a value the CRM rejects), and the message says what."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after
