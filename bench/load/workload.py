"""The load generator: closed-loop asyncio clients on aiohttp, mixed realistic traffic.

Each of ``concurrency`` clients sends one request, waits for the whole response
(a stream is read to ``[DONE]``), and sends the next, until the duration is up.
Requests in the warm-up window are sent but not counted.

Questions: half of the draws (``repeat_share``) come from 50 frequently asked
questions with Zipf-like weights, so the response cache sees real repeats; the
rest are long-tail questions composed from templates x roles x topics (over
2,000 combinations), which mostly miss it. The cache hit rate is reported from
the ``cached`` field of /v1/answers responses.

Every client draws from its own ``random.Random(seed, client)``: the request
sequence is the same on every run; only timing differs.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

ROLES = [
    ("staff-applied-ai-engineer", "Staff Applied AI Engineer"),
    ("senior-applied-ai-engineer", "Senior Applied AI Engineer"),
    ("principal-applied-ai-engineer", "Principal Applied AI Engineer"),
    ("senior-ml-engineer", "Senior ML Engineer"),
    ("mlops-engineer", "MLOps Engineer"),
    ("ai-platform-lead", "AI Platform Lead"),
    ("engineering-manager-applied-ai", "Engineering Manager, Applied AI"),
    ("staff-backend-engineer", "Staff Backend Engineer"),
    ("staff-data-engineer", "Staff Data Engineer"),
]

FREQUENT = [
    "What are the KPIs for a Staff Applied AI Engineer?",
    "What should a new Staff Applied AI Engineer achieve in the first 30 days?",
    "What are the 90-day goals for a Senior ML Engineer?",
    "Which technical skills does an MLOps Engineer need?",
    "How is an AI Platform Lead measured?",
    "What does the career path after Senior Applied AI Engineer look like?",
    "What are the core responsibilities of a Staff Data Engineer?",
    "Which tools does a Staff Backend Engineer use day to day?",
    "What decisions can an Engineering Manager, Applied AI make alone?",
    "What soft skills matter most for a Principal Applied AI Engineer?",
    "What is the target for model evaluation coverage?",
    "How often are KPIs reviewed for an MLOps Engineer?",
    "Who are the main stakeholders of an AI Platform Lead?",
    "What does a Staff Applied AI Engineer deliver in the first 90 days?",
    "What experience is expected for a Senior ML Engineer?",
    "What does the interview scorecard weigh most for a Staff Applied AI Engineer?",
    "What is the mission of the Staff Data Engineer role?",
    "What are the 60-day milestones for an Engineering Manager, Applied AI?",
    "Which KPI has the highest weight for a Principal Applied AI Engineer?",
    "How does a Senior Applied AI Engineer handle production incidents?",
    "What are the day-to-day activities of an MLOps Engineer?",
    "What tech stack does a Staff Backend Engineer work with?",
    "How does a Staff Data Engineer measure data quality?",
    "What are the key deliverables of an AI Platform Lead?",
    "What does success look like after six months for a Senior ML Engineer?",
    "Which cloud platforms should an MLOps Engineer know?",
    "How should a Staff Applied AI Engineer mentor other engineers?",
    "What are the responsibilities of an Engineering Manager, Applied AI for hiring?",
    "What is the latency target for model serving?",
    "How does a Principal Applied AI Engineer influence the technical roadmap?",
    "What are the goals for a Staff Backend Engineer in the first 30 days?",
    "Which metrics track LLM cost for a Staff Applied AI Engineer?",
    "What does a Senior Applied AI Engineer own in evaluation?",
    "What governance responsibilities does an AI Platform Lead have?",
    "What is the escalation path for a Senior ML Engineer?",
    "How is on-call handled for an MLOps Engineer?",
    "What skills separate a Staff from a Senior Applied AI Engineer?",
    "What are the KPIs of a Staff Data Engineer?",
    "How does an Engineering Manager, Applied AI measure team delivery?",
    "What are typical next roles after Staff Backend Engineer?",
    "Which certifications are useful for an MLOps Engineer?",
    "What does a Principal Applied AI Engineer do in the first 90 days?",
    "How does a Senior ML Engineer work with product managers?",
    "What is the pipeline freshness target for a Staff Data Engineer?",
    "What authority does a Staff Applied AI Engineer have over architecture?",
    "What collaboration is expected between the AI Platform Lead and security?",
    "What are the 30/60/90-day goals for a Senior Applied AI Engineer?",
    "What tools does an Engineering Manager, Applied AI use?",
    "How is a Staff Backend Engineer's impact measured?",
    "What are the main risks a Staff Applied AI Engineer manages?",
]

TEMPLATES = [
    "What does a {role} do about {topic}?",
    "How is a {role} measured on {topic}?",
    "Which skills does a {role} need for {topic}?",
    "What are the goals for a {role} regarding {topic}?",
    "Who does a {role} work with on {topic}?",
    "What should a new {role} learn first about {topic}?",
    "How does {topic} show up in the KPIs of a {role}?",
    "What decisions about {topic} can a {role} make?",
    "What tools support {topic} for a {role}?",
    "What does good {topic} look like for a {role} after 90 days?",
    "How does a {role} report progress on {topic}?",
    "What responsibilities for {topic} does a {role} have?",
]

TOPICS = [
    "model evaluation", "incident response", "data quality", "cost control", "serving latency",
    "stakeholder communication", "hiring", "mentoring", "the technical roadmap", "on-call",
    "privacy", "documentation", "experimentation", "platform reliability", "code review",
    "vendor selection", "security reviews", "capacity planning", "feature stores", "prompt management",
]

# Share of each request kind in the default mix (answers dominate, as managers use the API).
DEFAULT_MIX = {"answer": 0.45, "chat_stream": 0.2, "search": 0.2, "roles": 0.15}
_ZIPF = [1.0 / (rank + 1) ** 0.8 for rank in range(len(FREQUENT))]


def draw_question(rng: random.Random, repeat_share: float) -> str:
    if rng.random() < repeat_share:
        return rng.choices(FREQUENT, weights=_ZIPF)[0]
    return rng.choice(TEMPLATES).format(role=rng.choice(ROLES)[1], topic=rng.choice(TOPICS))


@dataclass
class Outcome:
    kind: str
    status: int  # 0 = transport error / timeout
    latency_s: float
    error: str | None = None
    cached: bool | None = None
    provider: str | None = None
    at: float = 0.0  # perf_counter() when the request was sent
    version: str | None = None  # index version, from /v1/search responses


@dataclass
class LevelResult:
    concurrency: int
    duration_s: float
    outcomes: list[Outcome] = field(default_factory=list)
    # What ``probe`` returned at the start and at the end of the measured window.
    probe_start: Any = None
    probe_end: Any = None

    @property
    def count(self) -> int:
        return len(self.outcomes)

    @property
    def throughput(self) -> float:
        return self.count / self.duration_s if self.duration_s else 0.0

    def errors(self) -> Counter[str]:
        return Counter(o.error for o in self.outcomes if o.error)

    @property
    def error_count(self) -> int:
        return sum(1 for o in self.outcomes if o.error)

    @property
    def server_errors(self) -> int:
        return sum(1 for o in self.outcomes if o.status >= 500)

    def percentile_ms(self, q: float, kind: str | None = None) -> float:
        values = sorted(o.latency_s for o in self.outcomes if kind is None or o.kind == kind)
        if not values:
            return float("nan")
        # Nearest-rank percentile (no interpolation): a reported p99 is a latency some
        # request really had.
        rank = max(1, min(len(values), int(-(-q * len(values) // 100))))
        return values[rank - 1] * 1000

    def cache_hit_rate(self) -> float | None:
        seen = [o.cached for o in self.outcomes if o.cached is not None]
        return sum(seen) / len(seen) if seen else None

    def providers(self) -> Counter[str]:
        return Counter(o.provider for o in self.outcomes if o.provider)

    def kinds(self) -> list[str]:
        return sorted({o.kind for o in self.outcomes})


class Client:
    """Sends one request of a given kind and reports its Outcome (never raises)."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, key: str, *, model: str | None = None,
                 timeout_s: float = 60.0) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._headers = {"authorization": f"Bearer {key}"}
        self._model = model
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    def _body_model(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._model:
            body["model"] = self._model
        return body

    def _chat_body(self, question: str, *, stream: bool) -> dict[str, Any]:
        # The OpenAI wire format requires a model; ladder-extractive is the server's default alias.
        return {"model": self._model or "ladder-extractive", "stream": stream,
                "messages": [{"role": "user", "content": question}]}

    async def send(self, kind: str, rng: random.Random, repeat_share: float) -> Outcome:
        started = time.perf_counter()
        try:
            outcome = await self._send(kind, rng, repeat_share, started)
        except TimeoutError:
            outcome = Outcome(kind, 0, time.perf_counter() - started, "timeout")
        except aiohttp.ClientError as exc:
            outcome = Outcome(kind, 0, time.perf_counter() - started, f"transport:{type(exc).__name__}")
        outcome.at = started
        return outcome

    async def _send(self, kind: str, rng: random.Random, repeat_share: float, started: float) -> Outcome:
        question = draw_question(rng, repeat_share)
        if kind == "answer":
            return await self._json(kind, "POST", "/v1/answers", self._body_model({"question": question}), started)
        if kind == "chat":
            body = self._chat_body(question, stream=False)
            return await self._json(kind, "POST", "/v1/chat/completions", body, started)
        if kind == "search":
            return await self._json(kind, "POST", "/v1/search", {"query": question, "k": 5}, started)
        if kind == "roles":
            slug = rng.choice(ROLES)[0]
            path = rng.choice(["/v1/roles", f"/v1/roles/{slug}", f"/v1/roles/{slug}/kpis"])
            return await self._json(kind, "GET", path, None, started)
        if kind == "chat_stream":
            body = self._chat_body(question, stream=True)
            return await self._stream(kind, body, started)
        raise ValueError(f"unknown request kind {kind!r}")

    async def _json(self, kind: str, method: str, path: str, body: dict[str, Any] | None, started: float) -> Outcome:
        async with self._session.request(method, self._base + path, json=body, headers=self._headers,
                                         timeout=self._timeout) as response:
            payload = await response.read()
            elapsed = time.perf_counter() - started
            if response.status >= 400:
                return Outcome(kind, response.status, elapsed, f"http_{response.status}")
            cached = provider = version = None
            if kind in ("answer", "chat", "search"):
                data = json.loads(payload)
                cached = bool(data.get("cached")) if kind == "answer" else None
                provider = data.get("provider")
                version = data.get("index_version")
            return Outcome(kind, response.status, elapsed, cached=cached, provider=provider, version=version)

    async def _stream(self, kind: str, body: dict[str, Any], started: float) -> Outcome:
        async with self._session.post(self._base + "/v1/chat/completions", json=body, headers=self._headers,
                                      timeout=self._timeout) as response:
            if response.status >= 400:
                await response.read()
                return Outcome(kind, response.status, time.perf_counter() - started, f"http_{response.status}")
            done, error, provider = False, None, None
            async for raw in response.content:
                line = raw.strip()
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    done = True
                    # Read the rest (the chunked terminator) as the openai SDK does, so the
                    # connection goes back to the pool: leaving it unread closes it, and every
                    # streamed request would then open a new connection.
                    await response.read()
                    break
                event = json.loads(data)
                if "error" in event:
                    error = "stream_error"
                elif event.get("provider"):
                    provider = event["provider"]
            elapsed = time.perf_counter() - started
            if error is None and not done:
                error = "stream_truncated"
            return Outcome(kind, response.status, elapsed, error, provider=provider)


async def run_level(
    base_url: str,
    key: str,
    *,
    concurrency: int,
    duration_s: float,
    warmup_s: float = 2.0,
    mix: dict[str, float] | None = None,
    seed: int = 7,
    repeat_share: float = 0.5,
    model: str | None = None,
    probe: Callable[[], Any] | None = None,
) -> LevelResult:
    """Drive ``concurrency`` closed-loop clients for warm-up + duration seconds."""
    mix = mix or DEFAULT_MIX
    kinds, weights = list(mix), list(mix.values())
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, force_close=False)
    result = LevelResult(concurrency, duration_s)
    async with aiohttp.ClientSession(connector=connector) as session:
        client = Client(session, base_url, key, model=model)
        start = time.perf_counter()
        measure_from = start + warmup_s
        end = measure_from + duration_s

        async def worker(index: int) -> None:
            rng = random.Random(seed * 100_003 + index)
            while time.perf_counter() < end:
                kind = rng.choices(kinds, weights=weights)[0]
                sent_at = time.perf_counter()
                outcome = await client.send(kind, rng, repeat_share)
                if sent_at >= measure_from and sent_at < end:
                    result.outcomes.append(outcome)

        async def window() -> None:
            if probe is None:
                return
            await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
            result.probe_start = probe()
            await asyncio.sleep(max(0.0, end - time.perf_counter()))
            result.probe_end = probe()

        await asyncio.gather(window(), *(worker(i) for i in range(concurrency)))
    return result


def level_row(result: LevelResult, extra: str = "") -> str:
    hit = result.cache_hit_rate()
    errors = ", ".join(f"{k} {v}" for k, v in sorted(result.errors().items())) or "0"
    return (
        f"| {result.concurrency} | {result.count} | {result.throughput:.1f} | "
        f"{result.percentile_ms(50):.1f} | {result.percentile_ms(95):.1f} | {result.percentile_ms(99):.1f} | "
        f"{100 * result.error_count / max(1, result.count):.2f}% ({errors}) | {result.server_errors} | "
        f"{'-' if hit is None else f'{100 * hit:.0f}%'} |{extra}"
    )


LEVEL_HEADER = (
    "| clients | requests | req/s | p50 ms | p95 ms | p99 ms | errors | 5xx | answer cache hits |"
)
LEVEL_RULE = "|---:|---:|---:|---:|---:|---:|---|---:|---:|"


def kind_rows(result: LevelResult) -> list[str]:
    rows = []
    for kind in result.kinds():
        n = sum(1 for o in result.outcomes if o.kind == kind)
        rows.append(
            f"| {result.concurrency} | {kind} | {n} | {result.percentile_ms(50, kind):.1f} | "
            f"{result.percentile_ms(95, kind):.1f} | {result.percentile_ms(99, kind):.1f} |"
        )
    return rows
