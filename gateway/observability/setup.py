"""Start-up wiring between the services and observability, called once from the app lifespan."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.observability.logs import configure_logging

if TYPE_CHECKING:
    from gateway.services import Services


def observe_services(services: Services) -> None:
    """Logging in the configured format, secrets for the scrubbers, and the metrics that read
    the services themselves. Before ``services.start()``, so start-up lines are formatted too."""
    secrets = services.secrets()
    configure_logging(services.settings.telemetry, secrets=secrets)
    services.telemetry.set_secrets(secrets)
    services.metrics.watch_ledger(services.ledger)
    # The router reports breaker *changes*; without a starting value a healthy provider
    # would have no series at all until its first failure.
    services.metrics.seed_breakers(services.router.breaker_states())
