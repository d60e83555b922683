"""Errors raised by the gateway. Translated to HTTP in one handler (gateway/app.py).

LadderError
 ├── SettingsError          configuration is invalid (start-up, CLI exit 2)
 └── RequestError           the caller's request cannot be served (4xx)
      ├── NotFoundError     404
      ├── AuthError         401
      ├── ForbiddenError    403
      ├── PaymentRequired   402 (budget exhausted)
      └── RateLimited       429 (carries retry_after)
ServiceError                 something on our side failed (5xx, no details leaked)
 └── ProviderUnavailable    every provider target failed
"""

from __future__ import annotations


class LadderError(Exception):
    """Root of ladder's own errors."""


class SettingsError(LadderError):
    """Configuration could not be validated."""


class RequestError(LadderError):
    status_code = 400
    error_type = "invalid_request_error"

    def __init__(self, message: str, *, code: str = "invalid_request", param: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param


class NotFoundError(RequestError):
    status_code = 404
    error_type = "not_found_error"


class AuthError(RequestError):
    status_code = 401
    error_type = "authentication_error"


class ForbiddenError(RequestError):
    status_code = 403
    error_type = "permission_error"


class PaymentRequired(RequestError):
    status_code = 402
    error_type = "budget_exceeded"


class RateLimited(RequestError):
    status_code = 429
    error_type = "rate_limit_error"

    def __init__(self, message: str, *, retry_after: float, code: str = "rate_limited"):
        super().__init__(message, code=code)
        self.retry_after = retry_after


class ServiceError(LadderError):
    status_code = 503
    error_type = "service_unavailable"


class ProviderUnavailable(ServiceError):
    """Every target for a model alias failed, the extractive fallback included."""
