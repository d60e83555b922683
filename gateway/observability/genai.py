"""OpenTelemetry GenAI semantic-convention attributes for the provider ("chat") span.

https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/ - the names
used here: gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model,
gen_ai.request.max_tokens, gen_ai.request.temperature, gen_ai.response.model,
gen_ai.response.finish_reasons, gen_ai.usage.input_tokens,
gen_ai.usage.output_tokens and, opt-in (capture_content), gen_ai.system_instructions,
gen_ai.input.messages and gen_ai.output.messages in the conventions' JSON shape
(role + parts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Span

if TYPE_CHECKING:
    from gateway.observability.tracing import Telemetry
    from gateway.providers.base import ProviderResponse
    from gateway.providers.router import Route


def chat_request(*, alias: str, max_tokens: int | None, temperature: float | None, prompt: str) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": alias,
        "gen_ai.request.max_tokens": max_tokens,
        "gen_ai.request.temperature": temperature,
        "ladder.prompt": prompt,
    }


def chat_route(span: Span, route: Route) -> None:
    """Which target answered (known once the router picked one)."""
    span.set_attribute("gen_ai.provider.name", route.provider)
    span.set_attribute("ladder.fallback_used", route.fallback_used)


def chat_response(
    telemetry: Telemetry,
    span: Span,
    route: Route,
    response: ProviderResponse,
    *,
    input_tokens: int,
    output_tokens: int,
    usage_source: str,
    system: str,
    messages: Iterable[Mapping[str, str]],
) -> None:
    """Response attributes; ``messages`` must be the redacted, rendered prompt."""
    chat_route(span, route)
    span.set_attribute("gen_ai.response.model", response.model)
    span.set_attribute("gen_ai.response.finish_reasons", [response.finish_reason])
    span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
    span.set_attribute("ladder.usage.source", usage_source)
    span.set_attribute("ladder.abstained", response.abstained)
    telemetry.capture(span, "gen_ai.system_instructions", [{"type": "text", "content": system}] if system else None)
    telemetry.capture(span, "gen_ai.input.messages", [_message(m) for m in messages if m.get("role") != "system"])
    telemetry.capture(span, "gen_ai.output.messages", [
        {"role": "assistant", "parts": [{"type": "text", "content": response.text}],
         "finish_reason": response.finish_reason},
    ])


def _message(message: Mapping[str, str]) -> dict[str, Any]:
    return {"role": message.get("role", "user"), "parts": [{"type": "text", "content": message.get("content", "")}]}
