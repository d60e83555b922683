"""The in-process runner: the real ``Orchestrator``, called with the harness's own principal.

Without a principal the orchestrator serves the dev principal, whose default
rate limit (``auth.default_rpm``, 120/min) a golden run of a few hundred cases
trips within seconds - the run would then score rate-limit errors as quality
failures. The harness is a local batch job, not a user, so it runs under an
``eval-harness`` principal with effectively unlimited request and token rates
and no budget. Its usage still lands in the ledger, under route ``eval``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.pipeline_types import PipelineRequest, PipelineResult

if TYPE_CHECKING:
    from gateway.auth.principal import Principal
    from gateway.orchestrator import Orchestrator

EVAL_KEY_ID = "eval-harness"
# Far above anything a local run can reach; token buckets refill at rate/60 per second.
_UNLIMITED = 10**12


def eval_principal() -> Principal:
    from gateway.auth.principal import DEV_SCOPES, Principal
    from gateway.auth.scopes import Audience

    return Principal(
        key_id=EVAL_KEY_ID, name="golden-set evaluation (local batch)", scopes=DEV_SCOPES,
        audience=Audience.EVALUATOR, rpm=_UNLIMITED, tpm=_UNLIMITED, monthly_budget_usd=None,
    )


def startup_errors() -> tuple[type[Exception], ...]:
    """The packages' own error roots: what a misconfigured pipeline raises at start-up."""
    from gateway.errors import LadderError
    from gateway.providers.errors import ProviderError
    from guardrails.errors import GuardrailError
    from prompts.errors import PromptError
    from retrieval.errors import RetrievalError

    return (LadderError, RetrievalError, GuardrailError, PromptError, ProviderError)


class InProcessRunner:
    def __init__(self, orchestrator: Orchestrator, principal: Principal | None = None) -> None:
        self._orchestrator = orchestrator
        self._principal = principal or eval_principal()

    async def run(self, request: PipelineRequest) -> PipelineResult:
        return await self._orchestrator.run(request, self._principal)

    async def section_ids(self) -> set[str] | None:
        """The section ids of the index this pipeline serves (see ``evals.sources``)."""
        from evals.sources import blueprint_section_ids, with_ancestors

        services = getattr(self._orchestrator, "services", None)
        if services is None:  # an orchestrator stand-in without services (tests)
            return None
        index = services.snapshot.index
        if index.blueprints:
            return blueprint_section_ids(index.blueprints)
        # An index built before blueprints were stored: its chunks still name their sections.
        return with_ancestors(chunk.section_id for chunk in index.chunks)
