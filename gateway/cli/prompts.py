"""``ladder prompts …``: inspect versions, move labels through the release gate, roll back.

Imports of the prompts package happen inside the commands so ``ladder --help``
stays instant.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from gateway.cli.common import console, fail, settings_or_exit

if TYPE_CHECKING:
    from gateway.settings import Settings
    from prompts.registry import PromptRegistry

T = TypeVar("T")

app = typer.Typer(
    name="prompts",
    help="Versioned prompt templates: list, show, diff, release, promote, roll back.",
    no_args_is_help=True,
)

LabelOpt = Annotated[str, typer.Option("--label", "-l", help="Label to move.")]
ActorOpt = Annotated[
    str | None,
    typer.Option("--actor", help="Who is acting (recorded in the history). Default: $USER."),
]


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    return os.environ.get("USER") or getpass.getuser()


def _registry(settings: Settings | None = None, *, labels: bool = True) -> PromptRegistry:
    from prompts.errors import PromptError
    from prompts.registry import PromptRegistry

    settings = settings or settings_or_exit()
    registry = PromptRegistry.from_settings(settings)
    try:
        return registry.load() if labels else registry.load_templates()
    except PromptError as exc:
        fail(str(exc))


def _when(at: str) -> str:
    """Compact UTC timestamp for tables: 2025-01-31 09:15:02 (the file keeps full ISO)."""
    return at[:19].replace("T", " ")


def _guard(action: Callable[[], T]) -> T:
    """Run a registry call, turning a PromptError into a clean error exit."""
    from prompts.errors import PromptError

    try:
        return action()
    except PromptError as exc:
        fail(str(exc))


@app.command("list")
def list_cmd() -> None:
    """Every prompt version with its status, labels and content hash."""
    from rich.table import Table

    registry = _registry()
    table = Table(title=f"prompts ({registry.templates_dir})")
    for column in ("prompt", "version", "status", "labels", "sha256", "guard policy"):
        table.add_column(column, overflow="fold")
    for name in registry.list_prompts():
        by_version: dict[str, list[str]] = {}
        for label, version in registry.labels(name).items():
            by_version.setdefault(version, []).append(label)
        for item in registry.get(name):
            status = "[green]released[/]" if item.release else "[yellow]draft[/]"
            table.add_row(
                name,
                item.version,
                status,
                ", ".join(sorted(by_version.get(item.version, []))),
                item.sha256[:12],
                item.template.guard_policy,
            )
    console.print(table)


@app.command("show")
def show_cmd(
    name: Annotated[str, typer.Argument(help="Prompt name, e.g. rag_answer.")],
    ref: Annotated[str, typer.Argument(help="Version or label.")] = "production",
    render: Annotated[
        bool, typer.Option("--render", help="Render with the template's example values.")
    ] = False,
) -> None:
    """Show one version (default: the one labelled production): metadata and the file."""
    from rich.syntax import Syntax
    from rich.table import Table

    registry = _registry()
    item = _guard(lambda: registry.version_for(name, ref))
    template = item.template
    meta = Table(show_header=False, box=None)
    meta.add_column(style="bold")
    meta.add_column(overflow="fold")
    labels = [k for k, v in registry.labels(name).items() if v == item.version]
    rows = [
        ("prompt", item.ref),
        ("status", item.status),
        ("labels", ", ".join(labels) or "-"),
        ("sha256", item.sha256),
        ("file", str(item.path)),
        ("guard policy", template.guard_policy),
        ("parameters", template.parameters.model_dump_json(exclude_none=True)),
        ("variables", ", ".join(template.input_variables)),
        ("changelog", template.changelog),
    ]
    for key, value in rows:
        meta.add_row(key, value)
    console.print(meta)
    if render:
        examples = {k: v.example for k, v in template.input_variables.items()}
        rendered = _guard(lambda: item.render(**examples))
        console.rule("system")
        console.print(rendered.system, markup=False, highlight=False)
        console.rule("user")
        console.print(rendered.user, markup=False, highlight=False)
    else:
        console.print(Syntax(item.text, "yaml", line_numbers=True, word_wrap=True))


@app.command("diff")
def diff_cmd(
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    v1: Annotated[str, typer.Argument(help="Old version or label.")],
    v2: Annotated[str, typer.Argument(help="New version or label.")],
) -> None:
    """Unified diff of two versions' YAML files (colourised)."""
    from rich.text import Text

    registry = _registry()
    diff = _guard(lambda: registry.diff(name, v1, v2))
    if not diff:
        console.print("no differences")
        return
    styles = {"+++": "bold", "---": "bold", "@@": "cyan", "+": "green", "-": "red"}
    for line in diff.splitlines():
        style = next((s for prefix, s in styles.items() if line.startswith(prefix)), "")
        console.print(Text(line, style=style), soft_wrap=True)


@app.command("labels")
def labels_cmd(name: Annotated[str, typer.Argument(help="Prompt name.")]) -> None:
    """Where each label of a prompt points, and who moved it last."""
    from rich.table import Table

    registry = _registry()
    labels = _guard(lambda: registry.labels(name))
    history = registry.history(name)
    table = Table(title=f"{name} labels ({registry.registry_file})")
    for column in ("label", "version", "moved at (UTC)", "by", "reason"):
        table.add_column(column, overflow="fold")
    for label, version in labels.items():
        last = next((e for e in reversed(history) if e.label == label), None)
        table.add_row(
            label,
            version,
            _when(last.at) if last else "-",
            last.actor if last else "-",
            (last.reason or "") if last else "",
        )
    console.print(table)


@app.command("history")
def history_cmd(
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    label: Annotated[str | None, typer.Option("--label", "-l", help="Only this label.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Newest N entries.")] = 50,
) -> None:
    """Every label move of a prompt: who, when, from, to, why, and the gate's verdict."""
    from rich.table import Table

    registry = _registry()
    entries = _guard(lambda: registry.history(name, label))[-limit:]
    table = Table(title=f"{name} label history")
    for column in ("#", "at (UTC)", "action", "label", "change", "actor", "reason", "gate"):
        table.add_column(column, overflow="fold")
    for e in entries:
        gate = (
            "-"
            if e.gate is None
            else (
                {True: "passed", False: "FAILED", None: "unavailable"}[e.gate.passed]
                + f": {e.gate.summary}"
            )
        )
        action = e.action + (" (forced)" if e.forced else "")
        change = f"{e.from_version or '-'} → {e.to_version}"
        table.add_row(
            str(e.seq), _when(e.at), action, e.label, change, e.actor, e.reason or "", gate
        )
    console.print(table)


@app.command("release")
def release_cmd(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION of a draft, e.g. rag_answer@2.1.0.")],
    actor: ActorOpt = None,
) -> None:
    """Freeze a draft: record its sha256 in LOCK.json; from then on the file is immutable."""
    name, sep, version = ref.partition("@")
    if not sep or not name or not version:
        fail(f"expected NAME@VERSION, got {ref!r}", code=2)
    registry = _registry(labels=False)  # a release touches LOCK.json, never the labels
    entry, added = _guard(lambda: registry.release(name, version, actor=_actor(actor)))
    if added:
        console.print(f"released {ref} (sha256 {entry.sha256[:12]}…) in {registry.lock_file}")
    else:
        console.print(f"{ref} was already released on {entry.released_at} with the same content")


@app.command("promote")
def promote_cmd(
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    version: Annotated[str, typer.Argument(help="Released version to promote, e.g. 2.0.0.")],
    label: LabelOpt = "production",
    force: Annotated[
        bool, typer.Option("--force", help="Promote even if the release gate fails or is missing.")
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (required with --force).")
    ] = None,
    actor: ActorOpt = None,
) -> None:
    """Point a label at a version; promoting to production runs the golden-set release gate."""
    from prompts.gate import load_default_gate

    if force and not (reason and reason.strip()):
        fail("--force needs --reason explaining why the gate is overridden", code=2)
    settings = settings_or_exit()
    registry = _registry(settings)
    gate = None
    if label in registry.gated_labels:
        try:
            gate = load_default_gate(settings)
        except (ImportError, TypeError) as exc:
            fail(f"the release gate evals.gate failed to load: {exc}")
        if gate is None and not force:
            fail(
                f"cannot promote to {label!r}: the golden-set release gate is unavailable "
                "(module evals.gate with GoldenGate is not installed). Nothing was changed. "
                'Use --force --reason "..." to override; the override is recorded.'
            )
    if label in registry.gated_labels:
        entry = _guard(
            lambda: registry.promote(
                name,
                version,
                gate=gate,
                force=force,
                reason=reason,
                actor=_actor(actor),
                label=label,
            )
        )
    else:
        entry = _guard(
            lambda: registry.move_label(name, label, version, actor=_actor(actor), reason=reason)
        )
    verdict = f" (gate: {entry.gate.summary})" if entry.gate else ""
    forced = " [bold yellow]FORCED[/]" if entry.forced else ""
    console.print(
        f"{name}: {label} {entry.from_version or '-'} → {entry.to_version}{forced}{verdict}"
    )


@app.command("rollback")
def rollback_cmd(
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the history).")],
    label: LabelOpt = "production",
    actor: ActorOpt = None,
) -> None:
    """Move a label back to the version it pointed at before its last move (no gate)."""
    registry = _registry()
    entry = _guard(lambda: registry.rollback(name, label, actor=_actor(actor), reason=reason))
    console.print(f"{name}: {label} rolled back {entry.from_version} → {entry.to_version}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="prompts")
