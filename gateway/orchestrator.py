"""One request through the pipeline:

    input guards -> retrieval -> prompt rendering -> provider (routed) -> output guards

with usage, cost, the ledger row, metrics and one span per stage recorded on
the way. Routes, the CLI and the evaluation harness all call ``run`` (or
``stream``); nothing here knows about HTTP.

CPU-bound steps (embedding, scoring) run in a worker thread so the event loop
keeps serving other requests.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from gateway.cache import cache_key, is_cacheable
from gateway.errors import ServiceError
from gateway.observability import genai
from gateway.observability.tracing import current_trace_id
from gateway.pipeline_types import PipelineRequest, PipelineResult, RetrievedChunk
from gateway.providers.base import Passage, ProviderRequest, ProviderResponse
from gateway.providers.errors import ProviderStreamError
from gateway.providers.router import Route, Target
from gateway.query_planner import QueryPlan, plan_query
from gateway.schemas.common import Citation, PromptRef, Usage
from gateway.usage.records import UsageRecord
from gateway.usage.tokens import ProviderUsage as CountedUsage
from guardrails.base import Verdict
from guardrails.errors import ModelNeeded

if TYPE_CHECKING:
    from gateway.auth.principal import Principal
    from gateway.services import Services
    from retrieval.searcher import Hit

log = logging.getLogger("ladder.pipeline")
T = TypeVar("T")

_SUPERLATIVE = re.compile(r"\b(highest|largest|most|biggest|lowest|smallest|least|leads)\b", re.IGNORECASE)
_MAX_TABLE_ROWS = 30
NO_EVIDENCE = "The role blueprints do not contain enough evidence to answer this."
_MARKER = re.compile(r"\[(\d{1,3})\]")
# A sentence ends after ./!/? and the citation markers that follow it. The split never
# lands before a marker, complete or still arriving ("[", "[1"): a sentence cut from
# its marker would fail grounding and the marker would be sent alone.
_SENTENCE_END = re.compile(r"(?<=[.!?])(?:\s*\[\d{1,3}\])*\s+(?=\S)(?!\[\d{0,3}(?:\]|$))|\n+")


@dataclass
class _Prepared:
    """State carried from the pre-provider stages to the post-provider ones."""

    request: PipelineRequest
    principal: Principal
    started: float
    alias: str
    prompt: Any  # prompts.registry.ResolvedPrompt
    plan: QueryPlan | None = None
    hits: list[Hit] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    # What the output guards check against: the passage as indexed (section path included,
    # since the prompt shows it) with its stored vector, so nothing is re-embedded.
    evidence: list[dict[str, Any]] = field(default_factory=list)
    term_weights: dict[str, float] = field(default_factory=dict)
    messages: list[dict[str, str]] = field(default_factory=list)
    redacted_messages: list[dict[str, str]] = field(default_factory=list)
    system_prompt: str = ""
    verdicts: list[Verdict] = field(default_factory=list)
    input_outcome: Any = None
    cache_key: str | None = None
    index_version: str = ""
    early: PipelineResult | None = None  # refused/blocked/cached: no provider call needed
    reservation: Any = None


class Orchestrator:
    def __init__(self, services: Services) -> None:
        self._s = services

    @property
    def services(self) -> Services:
        """What this orchestrator serves with (e.g. the index snapshot the eval harness checks)."""
        return self._s

    # -- public --------------------------------------------------------------------------------
    async def run(self, request: PipelineRequest, principal: Principal | None = None) -> PipelineResult:
        prepared = await self._prepare(request, principal)
        if prepared.early is not None:
            return self._account(prepared, prepared.early)
        s = self._s
        try:
            with s.telemetry.stage("provider", **self._genai_request_attrs(prepared)) as span:
                response, route = await s.router.complete(prepared.alias, self._request_builder(prepared))
                self._genai_response_attrs(span, prepared, route, response)
        except BaseException:
            self._release(prepared)
            raise
        result = await self._finish(prepared, response.text, response, route, response.abstained)
        return self._account(prepared, result)

    async def stream(
        self, request: PipelineRequest, principal: Principal | None = None
    ) -> tuple[PipelineResult, AsyncIterator[str]]:
        """A result skeleton (model, prompt, trace id...) and an iterator of answer text pieces.

        Output guards see each whole sentence before any of it is sent: a sentence
        that fails grounding or leaks is dropped, never half-shown. When the upstream
        breaks before any text was sent, the next target of the alias answers instead;
        after text was sent, the iterator raises ``ProviderStreamError`` so the route
        can end the stream with an error event. The skeleton is completed in
        place (answer, citations, usage) when the iterator is exhausted.
        """
        prepared = await self._prepare(request, principal)
        if prepared.early is not None:
            result = self._account(prepared, prepared.early)
            return result, _words(result.answer)
        s = self._s
        try:
            # The span covers opening the stream; the relay's output-guard spans follow it.
            attrs = {**self._genai_request_attrs(prepared), "ladder.streaming": True}
            with s.telemetry.stage("provider", **attrs) as span:
                deltas, route = await s.router.stream(prepared.alias, self._request_builder(prepared))
                genai.chat_route(span, route)
        except BaseException:
            self._release(prepared)
            raise
        skeleton = self._skeleton(prepared, route)
        return skeleton, self._relay(prepared, route, deltas, skeleton)

    # -- stages --------------------------------------------------------------------------------
    async def _prepare(self, request: PipelineRequest, principal: Principal | None) -> _Prepared:
        s = self._s
        principal = principal or s.auth.dev_principal()
        alias = request.model or s.settings.providers.default_model
        s.router.targets(alias)  # unknown alias -> 404 before any work
        if request.role is not None:
            s.snapshot.catalog.get(request.role)  # unknown role -> 404
        prompt = s.prompts.resolve(
            s.settings.prompts.default_name,
            pinned_version=request.prompt_version,
            subject=request.subject or principal.key_id,
            canary_share=s.settings.prompts.canary_share,
        )
        prepared = _Prepared(request, principal, time.perf_counter(), alias, prompt)
        prepared.index_version = s.snapshot.index.version
        user_tokens = s.tokens.count_messages(request.messages)
        s.limiter.admit(principal, tokens=user_tokens)

        catalog = s.snapshot.catalog

        planned: list[QueryPlan] = []

        def search_text(redacted: list[dict[str, str]], retrieval_query: str) -> str:
            # The text retrieval will embed, so the guard's model call embeds it too when it
            # differs from the guard's own (see InputContext.companion). Redaction is done
            # by then: the plan is kept as is.
            planned.append(plan_query(redacted, catalog, request.role, last_query=retrieval_query))
            return planned[-1].vector_text

        def check(allow_model: bool, embedded: dict[str, np.ndarray] | None = None) -> Any:
            return s.guards.check_input(
                request.messages,
                audience=request.audience,
                prompt_version=prompt.version,
                policy_name=prompt.guard_policy,
                companion_query=search_text,
                allow_model=allow_model,
                embedded=embedded,
            )

        with s.telemetry.stage("input_guards", **{"ladder.audience": request.audience}) as span:
            guards_started = time.time_ns()
            outcome, embedding_ms = await self._guarded(check, "input")
            s.telemetry.guards(span, outcome.verdicts, guards_started,
                               embedding_ms=embedding_ms or outcome.embedding_ms)
            if outcome.embedded_text is not None:
                # 1, or 2 when retrieval's text differed and rode along in the same model call.
                span.set_attribute("ladder.guards.embedded_texts", 1 + (outcome.companion_text is not None))
        prepared.input_outcome = outcome
        prepared.verdicts.extend(outcome.verdicts)
        prepared.redacted_messages = outcome.redacted_messages
        if outcome.blocked or outcome.refused:
            prepared.early = self._refusal(
                prepared, outcome.refusal_reason or "refused", blocked=outcome.blocked,
                code=outcome.refusal_code,
            )
            return prepared

        prepared.plan = planned[-1] if planned else plan_query(
            prepared.redacted_messages, catalog, request.role, last_query=outcome.retrieval_query
        )
        if prepared.plan.unknown_role:
            # "a senior backend engineer": the same track at another level has a blueprint.
            nearest = catalog.nearest(prepared.plan.unknown_role)
            prepared.early = self._refusal(
                prepared,
                f"There is no blueprint for \"{prepared.plan.unknown_role}\" here, so I can't answer "
                f"that without guessing.{f' The nearest one is {nearest}.' if nearest else ''} "
                f"The roles I know are: {'; '.join(_roles(catalog))}.",
                blocked=False, code="unknown_role",
            )
            return prepared
        if prepared.plan.needs_role:
            roles = _roles(catalog)
            asked = next((m["content"] for m in reversed(prepared.redacted_messages) if m.get("role") == "user"), "")
            prepared.early = self._refusal(
                prepared,
                "Which role do you mean? Each blueprint sets its own, so answering for one of them "
                f"would be a guess. The roles I know are: {'; '.join(roles)}. For example: "
                f"\"{_for_role(asked, roles[0])}\"",
                blocked=False, code="role_needed",
            )
            return prepared
        # The temperature the provider will actually be sent: a request that names none gets
        # the prompt version's own, which may sample (rag_answer 1.0.0 uses 0.2).
        temperature = request.temperature if request.temperature is not None else prompt.parameters.temperature
        if is_cacheable(temperature) and request.use_cache:
            prepared.cache_key = cache_key(
                messages=prepared.redacted_messages,
                prompt=f"{prompt.name}@{prompt.version}",
                index_version=prepared.index_version,
                model=alias,
                role_filter=prepared.plan.roles or None,
                max_tokens=request.max_tokens or prompt.parameters.max_tokens,
            )
            cached = s.cache.get(prepared.cache_key)
            s.telemetry.metrics.cache_events.labels(result="hit" if cached else "miss").inc()
            if cached is not None:
                prepared.early = replace(
                    cached, cached=True, trace_id=current_trace_id(), latency_ms=0.0,
                    usage=cached.usage.model_copy(update={"cost_usd": 0.0}),
                )
                return prepared

        await self._retrieve(prepared, outcome)
        self._render(prepared)
        estimate = s.tokens.count_messages(prepared.messages)
        target = s.router.targets(alias)[0]
        prepared.reservation = s.budget.reserve(
            principal, model=target.model, provider=target.provider, prompt_tokens=estimate,
            max_completion_tokens=request.max_tokens or prompt.parameters.max_tokens or 0,
        )
        return prepared

    async def _guarded(self, check: Callable[..., T], stage: str) -> tuple[T, float]:
        """A guard run, ``check(allow_model, embedded=None)``, made on the event loop.

        The guards are GIL-bound Python (regexes, hashing, a dot product) apart from the
        embedding model, which releases the GIL. So they run here with vectors from the
        embedder's cache; a miss raises ``ModelNeeded``, the model call alone goes to the
        model pool, and the guards run again here with its vectors. Returns the outcome
        and the milliseconds spent embedding. (Under load, each hop to a thread for
        GIL-bound work cost ~1 ms of CPU and bought no parallelism.)"""
        try:
            return check(False), 0.0
        except ModelNeeded as needed:
            texts = needed.texts
        started = time.perf_counter()
        vectors = await self._s.embed(texts)
        embedding_ms = (time.perf_counter() - started) * 1000
        try:
            return check(False, dict(zip(texts, vectors, strict=True))), embedding_ms
        except ModelNeeded:  # a different text than the first run asked for: not expected
            log.warning("%s guards asked for another embedding after ModelNeeded; running in a thread", stage)
            return await self._s.run_model(lambda: check(True)), embedding_ms

    async def _retrieve(self, prepared: _Prepared, outcome: Any) -> None:
        s = self._s
        plan = prepared.plan
        assert plan is not None
        snapshot = s.snapshot
        k = prepared.request.top_k or s.settings.retrieval.top_k
        vector = _shared_vector(outcome, plan.vector_text)
        filters = {"role": plan.roles} if plan.roles else None
        attrs = {
            "gen_ai.operation.name": "retrieval",
            "gen_ai.request.top_k": k,
            "gen_ai.data_source.id": f"ladder-index@{snapshot.index.version}",
            "ladder.index.version": snapshot.index.version,
            "ladder.retrieval.follow_up": plan.follow_up,
        }
        steps: list[tuple[str, int, int]] = []

        def observe(name: str, start: int, end: int) -> None:
            if name != "embed":  # the searcher was given the vector: its "embed" did nothing
                steps.append((name, start, end))

        def search() -> list[Hit]:
            return snapshot.searcher.search(
                plan.query, k=2 * k, filters=filters, query_vector=query_vector, on_step=observe,
            )

        with s.telemetry.stage("retrieval", **attrs) as span:
            query_vector = vector
            if query_vector is None:
                # The guards did not embed this text (a policy without model-based checks, or
                # a rewritten follow-up): embed it here; only the model call leaves the loop.
                started = time.time_ns()
                query_vector = (await s.embed([plan.vector_text]))[0]
                steps.append(("embed", started, time.time_ns()))
            hits: list[Hit] = search() if s.search_inline(snapshot) else await s.run_model(search)
            for name, start, end in steps:  # embed (unless reused), bm25, dense, fusion
                s.telemetry.step(f"retrieval.{name}", start, end)
            span.set_attribute("ladder.retrieval.query_vector_reused", vector is not None)
            hits = _rerank(hits, prefer_own=not plan.roles)[:k]
            if s.telemetry.capture_content:
                span.set_attribute("ladder.retrieval.chunk_ids", [h.chunk.id for h in hits])
                span.set_attribute("ladder.retrieval.scores", [float(h.score) for h in hits])
        hits = self._complete_tables(plan.query, hits, snapshot)
        prepared.hits = hits
        bm25 = snapshot.index.bm25
        ceiling = float(bm25.idf.max()) if bm25.idf.size else 1.0
        prepared.term_weights = {
            t: float(bm25.idf[bm25.term_ids[t]]) if t in bm25.term_ids else ceiling
            for t in snapshot.index.analyzer.tokenize(plan.query)
        }
        vectors = snapshot.index.vectors_for([h.chunk.id for h in hits]) if hits else []
        prepared.evidence = [
            {"marker": i + 1, "chunk_id": h.chunk.id, "text": h.chunk.indexed_text, "embedding": vectors[i]}
            for i, h in enumerate(hits)
        ]
        prepared.passages = [
            Passage(
                marker=i + 1,
                chunk_id=h.chunk.id,
                title=h.chunk.doc_title,
                section_path=h.chunk.path_text,
                text=h.chunk.text,
                score=float(h.score),
                kind=h.chunk.kind,
                cells=h.chunk.metadata.get("cells"),
                similarity=None if h.dense_score is None else float(h.dense_score),
            )
            for i, h in enumerate(hits)
        ]

    @staticmethod
    def _complete_tables(query: str, hits: list[Hit], snapshot: Any) -> list[Hit]:
        """For a superlative over a table ("highest weight"), the whole table is evidence:
        a top-k cut would hide the row that answers. Sibling rows join after the hits."""
        if not hits or hits[0].chunk.kind != "table_row" or not _SUPERLATIVE.search(query):
            return hits
        from retrieval.searcher import Hit as SearchHit

        seen = {h.chunk.id for h in hits}
        extra = [
            SearchHit(chunk=c, score=0.0, bm25_score=None, dense_score=None, bm25_rank=None, dense_rank=None)
            for c in snapshot.index.section_chunks(hits[0].chunk.section_id)
            if c.kind == "table_row" and c.id not in seen
        ]
        return hits + extra[:_MAX_TABLE_ROWS]

    def _render(self, prepared: _Prepared) -> None:
        s = self._s
        history = prepared.redacted_messages[:-1]
        with s.telemetry.stage("prompt_render", **{"ladder.prompt": f"{prepared.prompt.name}@{prepared.prompt.version}"}):
            rendered = prepared.prompt.render(
                question=prepared.redacted_messages[-1]["content"],
                passages=[
                    {"marker": p.marker, "title": p.title, "section_path": p.section_path,
                     "text": p.text, "chunk_id": p.chunk_id}
                    for p in prepared.passages
                ],
                history=[m for m in history if m.get("role") in ("user", "assistant")],
                role_filter=prepared.request.role,
            )
        prepared.system_prompt = rendered.system
        prepared.messages = rendered.messages()

    def _request_builder(self, prepared: _Prepared):  # type: ignore[no-untyped-def]
        params = prepared.prompt.parameters
        request = prepared.request

        def build(target: Target) -> ProviderRequest:
            return ProviderRequest(
                model=target.model,
                messages=prepared.messages,
                question=prepared.plan.focus if prepared.plan else prepared.redacted_messages[-1]["content"],
                passages=prepared.passages,
                temperature=request.temperature if request.temperature is not None else params.temperature,
                max_tokens=request.max_tokens or params.max_tokens,
                stop=getattr(params, "stop", None),
                user=prepared.principal.key_id,
                term_weights=prepared.term_weights,
            )

        return build

    async def _finish(
        self, prepared: _Prepared, text: str, response: ProviderResponse | None, route: Route, abstained: bool
    ) -> PipelineResult:
        s = self._s
        if abstained:
            # The provider declined with its fixed notice: nothing to ground or scan.
            result = self._result(prepared, text, route.provider, route.model, True, False, NO_EVIDENCE, None)
            result.refusal_code = "no_evidence"
            return result
        with s.telemetry.stage("output_guards") as span:
            guards_started = time.time_ns()
            out = await self._output_guards(prepared, text)
            s.telemetry.guards(span, out.verdicts, guards_started)
        prepared.verdicts.extend(out.verdicts)
        refused = bool(out.refused or abstained)
        answer = out.final_text if not out.refused else (out.refusal_reason or text)
        reason = out.refusal_reason if out.refused else (NO_EVIDENCE if abstained else None)
        counted = CountedUsage(response.usage.prompt_tokens, response.usage.completion_tokens) if (
            response is not None and response.usage is not None) else None
        result = self._result(prepared, answer, route.provider, route.model, refused, False, reason, counted)
        result.refusal_code = out.refusal_code if out.refused else ("no_evidence" if abstained else None)
        if prepared.cache_key is not None and not refused:
            s.cache.put(prepared.cache_key, result)
        return result

    async def _relay(
        self, prepared: _Prepared, route: Route, deltas: AsyncIterator[Any], skeleton: PipelineResult
    ) -> AsyncIterator[str]:
        buffer = ""
        sent: list[str] = []
        provider_usage = None
        abstained = False
        failed: set[str] = set()
        while True:
            try:
                async for delta in deltas:
                    buffer += delta.text
                    if delta.usage is not None:
                        provider_usage = delta.usage
                    abstained = abstained or bool(delta.extra.get("abstained"))
                    while (match := _SENTENCE_END.search(buffer)) is not None:
                        sentence, buffer = buffer[: match.end()], buffer[match.end():]
                        # An abstention is the provider's fixed message, not a claim to ground.
                        checked = sentence if abstained else await self._check_piece(prepared, sentence)
                        if checked:
                            sent.append(checked)
                            yield checked
                if buffer.strip():
                    checked = buffer if abstained else await self._check_piece(prepared, buffer)
                    if checked:
                        sent.append(checked)
                        yield checked
                break
            except ProviderStreamError as exc:
                # Nothing reached the caller yet: the next target can still answer in full.
                reopened = None if sent else await self._reopen(prepared, route, failed, exc)
                if reopened is not None:
                    deltas, route = reopened
                    buffer, provider_usage, abstained = "", None, False
                    continue
                self._release(prepared)
                final = self._result(prepared, "".join(sent), route.provider, route.model, False, False, None, None)
                final.outcome = "error"
                self._copy_into(skeleton, final)
                self._account(prepared, skeleton)
                raise
        if not sent:
            text = "I could not produce an answer that is supported by the blueprints."
            sent.append(text)
            yield text
            abstained = True
        counted = CountedUsage(provider_usage.prompt_tokens, provider_usage.completion_tokens) if provider_usage else None
        reason = NO_EVIDENCE if abstained else None
        final = self._result(prepared, "".join(sent), route.provider, route.model, abstained, False, reason, counted)
        final.refusal_code = "no_evidence" if abstained else None
        self._copy_into(skeleton, final)
        self._account(prepared, skeleton)

    async def _reopen(
        self, prepared: _Prepared, route: Route, failed: set[str], error: ProviderStreamError
    ) -> tuple[AsyncIterator[Any], Route] | None:
        """A stream from the next target after ``route`` broke, or None when none is left."""
        failed.add(route.provider)
        try:
            return await self._s.router.stream(
                prepared.alias, self._request_builder(prepared), exclude=frozenset(failed)
            )
        except ServiceError:
            log.warning("no target left after %s broke mid-stream: %s", route.provider, error)
            return None

    async def _output_guards(self, prepared: _Prepared, text: str, *, streaming: bool = False) -> Any:
        """The output guards for a whole answer or, when streaming, one sentence of it."""
        s = self._s

        def check(allow_model: bool, embedded: dict[str, Any] | None = None) -> Any:
            return s.guards.check_output(
                text,
                chunks=prepared.evidence,
                input_outcome=prepared.input_outcome,
                system_prompt=prepared.system_prompt,
                secrets=s.secrets(),
                audience=prepared.request.audience,
                prompt_version=prepared.prompt.version,
                policy_name=prepared.prompt.guard_policy,
                abstain_text=prepared.prompt.abstain_text,
                streaming=streaming,
                allow_model=allow_model,
                embedded=embedded,
            )

        # Lexical support settles most sentences in well under a millisecond, so most
        # answers (every sentence, when streaming) are checked without a thread hop.
        outcome, _ = await self._guarded(check, "output")
        return outcome

    async def _check_piece(self, prepared: _Prepared, piece: str) -> str:
        s = self._s
        with s.telemetry.stage("output_guards", **{"ladder.streaming": True}) as span:
            guards_started = time.time_ns()
            out = await self._output_guards(prepared, piece, streaming=True)
            s.telemetry.guards(span, out.verdicts, guards_started)
        prepared.verdicts.extend(v for v in out.verdicts if v.triggered)
        if out.refused:
            return ""
        text = out.final_text
        # Keep the separator that followed the sentence so streamed text reads naturally.
        trailing = piece[len(piece.rstrip()):]
        return text.rstrip() + trailing if text.strip() else ""

    # -- results and accounting ----------------------------------------------------------------
    def _refusal(
        self, prepared: _Prepared, reason: str, *, blocked: bool, code: str | None = None
    ) -> PipelineResult:
        result = self._result(prepared, reason, "guardrails", prepared.alias, True, blocked, reason, None)
        result.refusal_code = code
        return result

    def _skeleton(self, prepared: _Prepared, route: Route) -> PipelineResult:
        return self._result(prepared, "", route.provider, route.model, False, False, None, None)

    def _result(
        self, prepared: _Prepared, answer: str, provider: str, model: str, refused: bool,
        blocked: bool, reason: str | None, provider_usage: CountedUsage | None,
    ) -> PipelineResult:
        s = self._s
        used = {int(m) for m in _MARKER.findall(answer)}
        by_marker = {p.marker: (p, h) for p, h in zip(prepared.passages, prepared.hits, strict=False)}
        citations = [
            Citation(
                marker=marker, chunk_id=p.chunk_id, document=p.title, role=h.chunk.doc_slug,
                section_id=h.chunk.section_id, section_path=p.section_path, quote=p.text,
                score=round(p.score, 6),
            )
            for marker, (p, h) in sorted(by_marker.items())
            if marker in used
        ]
        usage_model = model if provider != "extractive" else "ladder-extractive"
        tokens = s.tokens.usage(usage_model, prepared.messages or prepared.redacted_messages, answer, provider_usage)
        cost = s.pricing.cost(usage_model, tokens.prompt_tokens, tokens.completion_tokens, provider=provider)
        outcome = "blocked" if blocked else ("refused" if refused else "ok")
        return PipelineResult(
            answer=answer,
            citations=citations,
            retrieved=[
                RetrievedChunk(
                    chunk_id=h.chunk.id, role=h.chunk.doc_slug, document=h.chunk.doc_title,
                    section_id=h.chunk.section_id, section_path=h.chunk.path_text, kind=h.chunk.kind,
                    text=h.chunk.text, score=float(h.score), bm25_score=h.bm25_score,
                    dense_score=h.dense_score,
                )
                for h in prepared.hits
            ],
            refused=refused or blocked,
            blocked=blocked,
            refusal_reason=reason,
            outcome=outcome,  # type: ignore[arg-type]
            verdicts=list(prepared.verdicts),
            usage=Usage(
                prompt_tokens=tokens.prompt_tokens, completion_tokens=tokens.completion_tokens,
                total_tokens=tokens.total_tokens, cost_usd=cost, source=tokens.source,
            ),
            model=prepared.alias,
            provider=provider,
            prompt=PromptRef(name=prepared.prompt.name, version=prepared.prompt.version, label=prepared.prompt.label),
            trace_id=current_trace_id(),
            latency_ms=0.0,
            index_version=prepared.index_version,
            retrieval_query=prepared.plan.query if prepared.plan else "",
        )

    @staticmethod
    def _copy_into(target: PipelineResult, source: PipelineResult) -> None:
        for name in PipelineResult.__dataclass_fields__:
            setattr(target, name, getattr(source, name))

    def _release(self, prepared: _Prepared) -> None:
        if prepared.reservation is not None:
            prepared.reservation.release()
            prepared.reservation = None

    def _account(self, prepared: _Prepared, result: PipelineResult) -> PipelineResult:
        """Latency, ledger row, metrics. Never raises: accounting must not fail a served answer."""
        s = self._s
        result.latency_ms = round((time.perf_counter() - prepared.started) * 1000, 3)
        principal = prepared.principal
        cost = 0.0 if result.cached else result.usage.cost_usd
        try:
            s.limiter.charge_tokens(principal.key_id, result.usage.completion_tokens, tpm=principal.tpm)
            with s.telemetry.stage("ledger_write"):
                s.ledger.record(
                    UsageRecord(
                        key_id=principal.key_id, route=prepared.request.route, latency_ms=result.latency_ms,
                        outcome=result.outcome, audience=prepared.request.audience, model=result.model,
                        provider=result.provider, prompt_name=result.prompt.name,
                        prompt_version=result.prompt.version, tokens_in=result.usage.prompt_tokens,
                        tokens_out=result.usage.completion_tokens, usage_source=result.usage.source,
                        cost_usd=cost, cache_hit=result.cached, trace_id=result.trace_id,
                    )
                )
            # Metrics, the request span's summary attributes and the request log fields.
            s.telemetry.record_result(result, route=prepared.request.route, key_id=principal.key_id)
        except Exception:
            log.exception("accounting failed for trace %s", result.trace_id)
        finally:
            # Released only after the ledger row is queued: the budget check counts queued
            # rows, so the cost is visible somewhere at every instant.
            self._release(prepared)
        return result

    # -- tracing attributes --------------------------------------------------------------------
    def _genai_request_attrs(self, prepared: _Prepared) -> dict[str, Any]:
        params = prepared.prompt.parameters
        request = prepared.request
        return genai.chat_request(
            alias=prepared.alias,
            max_tokens=request.max_tokens or params.max_tokens,
            temperature=request.temperature if request.temperature is not None else params.temperature,
            prompt=f"{prepared.prompt.name}@{prepared.prompt.version}",
        )

    def _genai_response_attrs(
        self, span: Any, prepared: _Prepared, route: Route, response: ProviderResponse
    ) -> None:
        # Usage of this call: the provider's report, else counted on what was sent and returned.
        reported = CountedUsage(response.usage.prompt_tokens, response.usage.completion_tokens) if (
            response.usage is not None) else None
        usage = self._s.tokens.usage(route.model, prepared.messages, response.text, reported)
        genai.chat_response(
            self._s.telemetry, span, route, response,
            input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens,
            usage_source=usage.source,
            system=prepared.system_prompt, messages=prepared.messages,
        )


# Sample blueprints are illustrative stand-ins an organization replaces. When a
# question names no role and the same section exists in several blueprints ("the
# 90-day goals"), the organization's own (non-sample) blueprint is the one meant;
# otherwise own blueprints only win close calls.
_SAMPLE_PENALTY = 0.9
_AMBIGUOUS_SAMPLE_PENALTY = 0.6
_SUMMARY_SECTION = "final role scorecard summary"
_SUMMARY_PENALTY = 0.8


def _roles(catalog: Any) -> list[str]:
    """The role titles ladder knows, for messages (joined with "; ": titles hold commas)."""
    return [b["role"] for b in catalog.summaries()]


def _for_role(question: str, role: str) -> str:
    """"What are the KPIs?" -> "What are the KPIs for an AI Platform Lead / Architect?"."""
    article = "an" if role[:1].lower() in "aeiou" else "a"
    return f"{question.strip().rstrip('?.! ')} for {article} {role}?"


def _section_title(hit: Hit) -> str:
    return hit.chunk.section_path[-1].split(" (")[0].lower() if hit.chunk.section_path else ""


def _rerank(hits: list[Hit], *, prefer_own: bool) -> list[Hit]:
    """Adjust the fused ranking with two corpus conventions (see corpus/README.md):

    * the final scorecard summary restates the other sections in a line each, so the
      detailed section is the better evidence and citation when both match;
    * with ``prefer_own`` (no role named), sample blueprints yield to the organization's
      own ones, strongly when the same section exists in several blueprints.
    """
    if not hits:
        return hits
    titles: dict[str, set[str]] = {}
    for hit in hits:
        if hit.chunk.kind != "table_row":
            titles.setdefault(_section_title(hit), set()).add(hit.chunk.doc_slug)
    own_exists = any(not h.chunk.metadata.get("sample") for h in hits)

    def adjusted(hit: Hit) -> float:
        score = hit.score
        if (hit.chunk.metadata.get("section_title") or "").lower() == _SUMMARY_SECTION:
            score *= _SUMMARY_PENALTY
        if prefer_own and own_exists and hit.chunk.metadata.get("sample"):
            shared = len(titles.get(_section_title(hit), ())) > 1
            score *= _AMBIGUOUS_SAMPLE_PENALTY if shared else _SAMPLE_PENALTY
        return score

    return sorted(hits, key=adjusted, reverse=True)


def _shared_vector(outcome: Any, query: str) -> np.ndarray | None:
    """The input guards' vector of ``query``, when they embedded that very text."""
    if getattr(outcome, "query_embedding", None) is not None and outcome.embedded_text == query:
        return outcome.query_embedding
    if getattr(outcome, "companion_embedding", None) is not None and outcome.companion_text == query:
        return outcome.companion_embedding
    return None


async def _words(text: str) -> AsyncIterator[str]:
    for piece in re.findall(r"\S+\s*|\s+", text):
        yield piece

