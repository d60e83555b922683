"""Provider failures, translated from transport exceptions at the provider boundary.

ProviderError
 ├── ProviderTimeout        the upstream did not answer in time (retryable)
 ├── ProviderConnectionError connection refused/reset (retryable)
 ├── ProviderHTTPError      non-2xx status; retryable on 429 and 5xx (carries retry_after)
 ├── ProviderProtocolError  the upstream answered something that is not the OpenAI wire format
 └── ProviderStreamError    the stream broke after it started (not retryable: output was sent)
"""

from __future__ import annotations


class ProviderError(Exception):
    retryable = False

    def __init__(self, message: str, *, provider: str = "") -> None:
        super().__init__(message)
        self.provider = provider


class ProviderTimeout(ProviderError):
    retryable = True


class ProviderConnectionError(ProviderError):
    retryable = True


class ProviderHTTPError(ProviderError):
    def __init__(
        self, status_code: int, body: str, *, provider: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(f"upstream returned HTTP {status_code}", provider=provider)
        self.status_code = status_code
        self.body = body[:500]
        self.retry_after = retry_after
        self.retryable = status_code == 429 or status_code >= 500


class ProviderProtocolError(ProviderError):
    pass


class ProviderStreamError(ProviderError):
    pass
