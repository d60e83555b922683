"""Errors raised by token counting, pricing and the usage ledger.

UsageError (LadderError)
 ├── PricingError        the pricing file is missing or invalid (a SettingsError: start-up fails)
 ├── LedgerError         the ledger database cannot be opened, migrated or written (503)
 │    └── LedgerClosed   ``record()`` after ``close()``, or before ``start()``
 └── InvalidFeedback     a feedback post is malformed (400)

Developer mistakes (a negative token count in a ``UsageRecord``) raise ``ValueError``.
"""

from __future__ import annotations

from gateway.errors import LadderError, RequestError, ServiceError, SettingsError


class UsageError(LadderError):
    """Root of the usage package's errors."""


class PricingError(UsageError, SettingsError):
    """The pricing data file cannot be read or does not validate."""


class LedgerError(UsageError, ServiceError):
    """The usage database is unusable; metering cannot continue."""


class LedgerClosed(LedgerError):
    """The ledger is not accepting records (not started, or already closed)."""


class InvalidFeedback(UsageError, RequestError):
    """A feedback post is malformed (rating not +1/-1, empty trace id, comment too long)."""

    def __init__(self, message: str, *, param: str | None = None):
        RequestError.__init__(self, message, code="invalid_feedback", param=param)
