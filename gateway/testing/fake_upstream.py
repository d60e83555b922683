"""A local OpenAI-compatible upstream for tests and benchmarks: a documented test double.

It stands in for a remote LLM (which cannot run on a machine without weights)
and can be told to misbehave, so routing, retries, the circuit breaker and
mid-stream failures are exercised against a real socket:

    python -m gateway.testing.fake_upstream --port 9100 --latency-ms 50

Behaviour per request, chosen by ``POST /_control {"mode": ..., "times": N}``
(the next N requests; ``times`` omitted = until changed):

    ok            a grounded answer: it quotes the first sentence of passage [1] from the
                  prompt and cites it, so ladder's output guards accept it
    error500      HTTP 500
    rate_limit    HTTP 429 with ``Retry-After: <retry_after>``
    timeout       sleeps ``hang_s`` before answering (longer than the caller's timeout)
    malformed     HTTP 200 with a body that is not JSON
    reset_mid_stream   streams a few deltas, then drops the connection without [DONE]

``GET /_stats`` returns request counts per mode. Nothing here reaches the network:
bind it to 127.0.0.1.
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

_PASSAGE = re.compile(r"\[1\][^\n]*\n(?P<text>[^\n]+)")
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(\s|$)")


def grounded_reply(messages: list[dict[str, Any]]) -> str:
    """Quote the first sentence of passage [1] of the last user message, with its marker."""
    user = next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")
    match = _PASSAGE.search(user)
    if not match:
        return "I don't know."
    text = match.group("text").strip().lstrip("- ").strip()
    sentence = _FIRST_SENTENCE.match(text)
    quote = sentence.group(1) if sentence else text
    return f"{quote} [1]"


class FakeUpstream:
    def __init__(self, *, latency_ms: float = 0.0, retry_after: float = 1.0, hang_s: float = 30.0) -> None:
        self.latency_s = latency_ms / 1000
        self.retry_after = retry_after
        self.hang_s = hang_s
        self.mode = "ok"
        self.remaining: int | None = None
        self.stats: Counter[str] = Counter()

    def _take_mode(self) -> str:
        mode = self.mode
        if self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.mode, self.remaining = "ok", None
        self.stats[mode] += 1
        return mode

    async def control(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.mode = str(body.get("mode", "ok"))
        self.remaining = body.get("times")
        for key in ("latency_ms", "retry_after", "hang_s"):
            if key in body:
                value = float(body[key])
                if key == "latency_ms":
                    self.latency_s = value / 1000
                else:
                    setattr(self, key, value)
        return web.json_response({"mode": self.mode, "times": self.remaining})

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
                headers={"Retry-After": str(self.retry_after)},
            )
        if mode == "timeout":
            await asyncio.sleep(self.hang_s)
        if mode == "malformed":
            return web.Response(text="<html>not json", content_type="application/json")
        text = grounded_reply(body.get("messages") or [])
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
        words = re.findall(r"\S+\s*", text)
        for i, word in enumerate(words):
            if mode == "reset_mid_stream" and i == max(1, len(words) // 2):
                # Drop the connection abruptly: no [DONE], no final chunk.
                if request.transport is not None:
                    request.transport.abort()
                return response
            chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                     "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
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
