"""Request limits: message length, number of turns, total tokens (values from settings)."""

from __future__ import annotations

from guardrails.base import GuardResult, Stage
from guardrails.context import InputContext
from guardrails.policy import LimitsConfig
from retrieval.tokens import count_tokens


class LimitsGuard:
    name = "limits"
    stage: Stage = "input"

    def warm_up(self) -> None:
        count_tokens("warm up")  # unpack the offline tokenizer files now, not on a request

    def check(self, context: InputContext, config: LimitsConfig, apply: bool) -> GuardResult:
        limits = context.limits
        # Turns = messages the caller sent (system messages are the gateway's own).
        turns = [m for m in context.messages if m.get("role") != "system"]
        longest = max((len(m.get("content", "")) for m in context.messages), default=0)
        if longest > limits.max_message_chars:
            return GuardResult(
                True,
                float(longest),
                float(limits.max_message_chars),
                [f"message_chars={longest} > {limits.max_message_chars}"],
                "message_too_long",
                f"Your message is too long ({longest} characters; the limit is "
                f"{limits.max_message_chars}). Please shorten it.",
            )
        if len(turns) > limits.max_turns:
            return GuardResult(
                True,
                float(len(turns)),
                float(limits.max_turns),
                [f"turns={len(turns)} > {limits.max_turns}"],
                "too_many_turns",
                f"This conversation is too long ({len(turns)} messages; the limit is "
                f"{limits.max_turns}). Please start a new one.",
            )
        tokens = sum(count_tokens(m.get("content", "")) for m in context.messages)
        if tokens > limits.max_total_tokens:
            return GuardResult(
                True,
                float(tokens),
                float(limits.max_total_tokens),
                [f"total_tokens={tokens} > {limits.max_total_tokens}"],
                "too_many_tokens",
                f"This conversation is too long ({tokens} tokens; the limit is "
                f"{limits.max_total_tokens}). Please shorten it or start a new one.",
            )
        return GuardResult(
            False,
            float(tokens),
            float(limits.max_total_tokens),
            [f"message_chars={longest}", f"turns={len(turns)}", f"total_tokens={tokens}"],
        )
