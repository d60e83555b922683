"""A local OpenAI-compatible upstream for tests and benchmarks: a documented test double.

It stands in for a remote LLM (which cannot run on a machine without weights)
and can be told to misbehave, so routing, retries, the circuit breaker and
mid-stream failures are exercised against a real socket:

    python -m gateway.testing.fake_upstream --port 9100 --latency-ms 50

Behaviour per request, chosen by ``POST /_control {"mode": ..., "times": N}``
(the next N requests; ``times`` omitted = until changed; an unknown mode is a 400):

    ok            a grounded answer: it quotes the first sentence of passages [1] and
                  [2] of the prompt (as many as ``passages``), each followed by its
                  marker, so ladder's output guards accept it
    error500      HTTP 500
    rate_limit    HTTP 429 with ``Retry-After: <retry_after>``
    timeout       sleeps ``hang_s`` before answering (longer than the caller's timeout)
    malformed     HTTP 200 with a body that is not JSON
    reset_mid_stream   streams part of the answer, then drops the connection without
                  [DONE]: by default after the first quoted sentence and one word of
                  the next (so a whole sentence reached the caller); with
                  ``reset_after_words: N`` after N words instead

The same call may set ``latency_ms``, ``retry_after``, ``hang_s``, ``passages`` and
``reset_after_words`` (``null`` restores the default); they persist until changed.
``POST /_reset`` restores every default and zeroes the statistics. ``GET /_stats``
returns request counts per mode. Non-streaming requests without a mode-specific
failure answer like ``ok``. Nothing here reaches the network: bind it to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from collections import Counter
from typing import Any

from aiohttp import web

MODES = ("ok", "error500", "rate_limit", "timeout", "malformed", "reset_mid_stream")
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(\s|$)")
_WORD = re.compile(r"\S+\s*")


def _passage_text(prompt: str, marker: int) -> str | None:
    """The first text line after the ``[marker] title — path`` header of the prompt."""
    match = re.search(rf"^\[{marker}\][^\n]*\n(?P<text>[^\n]+)", prompt, re.MULTILINE)
    return match.group("text").strip().lstrip("- ").strip() if match else None


def grounded_reply(messages: list[dict[str, Any]], passages: int = 2) -> str:
    """Quote the first sentence of passages [1]..[passages] of the last user message,
    each as one sentence followed by its marker."""
    user = next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")
    quotes = []
    for marker in range(1, passages + 1):
        text = _passage_text(user, marker)
        if text is None:
            break
        sentence = _FIRST_SENTENCE.match(text)
        quote = sentence.group(1) if sentence else text.rstrip(";,: ") + "."
        quotes.append(f"{quote} [{marker}]")
    return " ".join(quotes) if quotes else "I don't know."


def _reset_point(words: list[str], after_words: int | None) -> int:
    """How many words are sent before the connection drops."""
    if after_words is not None:
        return min(after_words, len(words))
    for i, word in enumerate(words):
        if re.fullmatch(r"\[\d+\]\s*", word):
            return min(i + 2, len(words))  # the first sentence, its marker and one word more
    return max(1, len(words) // 2)


class FakeUpstream:
    def __init__(self, *, latency_ms: float = 0.0, retry_after: float = 1.0, hang_s: float = 30.0) -> None:
        self._defaults = {"latency_ms": latency_ms, "retry_after": retry_after, "hang_s": hang_s}
        self.stats: Counter[str] = Counter()
        self.reset()

    def reset(self) -> None:
        self.latency_s = self._defaults["latency_ms"] / 1000
        self.retry_after = self._defaults["retry_after"]
        self.hang_s = self._defaults["hang_s"]
        self.passages = 2
        self.reset_after_words: int | None = None
        self.mode = "ok"
        self.remaining: int | None = None
        self.stats.clear()

    def _take_mode(self) -> str:
        mode = self.mode
        if self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.mode, self.remaining = "ok", None
        self.stats[mode] += 1
        return mode

    async def control(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            mode = str(body.get("mode", "ok"))
            times = body.get("times")
            if mode not in MODES:
                raise ValueError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
            if times is not None and (not isinstance(times, int) or times < 1):
                raise ValueError("times must be a positive integer or null")
            knobs = {
                "latency_ms": lambda v: setattr(self, "latency_s", float(v) / 1000),
                "retry_after": lambda v: setattr(self, "retry_after", float(v)),
                "hang_s": lambda v: setattr(self, "hang_s", float(v)),
                "passages": lambda v: setattr(self, "passages", int(v) if v is not None else 2),
                "reset_after_words": lambda v: setattr(self, "reset_after_words", None if v is None else int(v)),
            }
            for key, apply in knobs.items():
                if key in body:
                    apply(body[key])
        except (ValueError, TypeError, AttributeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        self.mode, self.remaining = mode, times
        return web.json_response({"mode": self.mode, "times": self.remaining})

    async def reset_all(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"mode": self.mode})

    async def get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(dict(self.stats))

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fake-llm", "object": "model"}]})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        mode = self._take_mode()
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if mode == "error500":
            return web.json_response({"error": {"message": "boom"}}, status=500)
        if mode == "rate_limit":
            return web.json_response(
                {"error": {"message": "slow down"}}, status=429,
                headers={"Retry-After": f"{self.retry_after:g}"},
            )
        if mode == "timeout":
            await asyncio.sleep(self.hang_s)
        if mode == "malformed":
            return web.Response(text="<html>not json", content_type="application/json")
        text = grounded_reply(body.get("messages") or [], self.passages)
        model = str(body.get("model") or "fake-llm")
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()),
                 "total_tokens": prompt_tokens + len(text.split())}
        if not body.get("stream"):
            return web.json_response({
                "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "stop"}],
                "usage": usage,
            })
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        words = _WORD.findall(text)
        cut = _reset_point(words, self.reset_after_words) if mode == "reset_mid_stream" else None
        for i, word in enumerate(words):
            if i == cut:
                break
            chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                     "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        if cut is not None:
            # Drop the connection abruptly: no [DONE], no final chunk.
            if request.transport is not None:
                request.transport.abort()
            return response
        final = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                 "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        await response.write(f"data: {json.dumps(final)}\n\n".encode())
        if (body.get("stream_options") or {}).get("include_usage"):
            await response.write(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/_control", self.control)
        app.router.add_post("/_reset", self.reset_all)
        app.router.add_get("/_stats", self.get_stats)
        return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    web.run_app(FakeUpstream(latency_ms=args.latency_ms).app(), host=args.host, port=args.port,
                print=None, access_log=None)


if __name__ == "__main__":
    main()
