"""Token counts against tiktoken itself, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tiktoken

from gateway.usage.tokens import ProviderUsage, TokenCounter, resolve_encoding
from retrieval.tokens import prepare_offline_encodings

ROOT = Path(__file__).resolve().parents[2]

MESSAGES = [
    {"role": "system", "content": "You answer questions about job-role blueprints."},
    {"role": "user", "name": "alice", "content": "What KPIs does a Staff Applied AI Engineer own?"},
    {"role": "assistant", "content": "Model quality, latency p95 < 800 ms, cost per answer."},
    {"role": "user", "content": "And the 30/60/90-day goals?  Ünïcödé, emoji 🚀, code `x = 1`"},
]


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    c = TokenCounter()
    c.warm_up()
    return c


def reference_message_tokens(encoding: tiktoken.Encoding, messages: list[dict[str, str]]) -> int:
    # OpenAI cookbook, "How to count tokens with tiktoken": 3 per message, 1 per name, 3 priming.
    total = 0
    for message in messages:
        total += 3
        for field, value in message.items():
            total += len(encoding.encode(value))
            if field == "name":
                total += 1
    return total + 3


@pytest.mark.parametrize(
    ("model", "encoding", "source"),
    [
        ("gpt-4o", "o200k_base", "tiktoken"),
        ("gpt-4o-mini", "o200k_base", "tiktoken"),
        ("gpt-4.1", "o200k_base", "tiktoken"),
        ("o3-mini", "o200k_base", "tiktoken"),
        ("openai/gpt-4o", "o200k_base", "tiktoken"),
        ("gpt-4", "cl100k_base", "tiktoken"),
        ("gpt-3.5-turbo", "cl100k_base", "tiktoken"),
        ("llama3.1:8b", "cl100k_base", "approx:cl100k_base"),
        ("mistral:7b", "cl100k_base", "approx:cl100k_base"),
        ("Qwen/Qwen2.5-7B-Instruct", "cl100k_base", "approx:cl100k_base"),
        ("ladder-extractive", "cl100k_base", "approx:cl100k_base"),
        ("gpt-oss-20b", "o200k_base", "approx:o200k_base"),
        (None, "cl100k_base", "approx:cl100k_base"),
    ],
)
def test_encoding_per_model_family(model: str | None, encoding: str, source: str) -> None:
    assert resolve_encoding(model) == (encoding, source)


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4", "llama3.1:8b"])
def test_text_and_message_counts_match_tiktoken(counter: TokenCounter, model: str) -> None:
    encoding = tiktoken.get_encoding(resolve_encoding(model)[0])
    text = MESSAGES[3]["content"] + " <|endoftext|> is plain text here"
    assert counter.count_text(text, model) == len(encoding.encode(text, disallowed_special=()))
    assert counter.count_messages(MESSAGES, model) == reference_message_tokens(encoding, MESSAGES)


def test_o200k_and_cl100k_really_differ(counter: TokenCounter) -> None:
    # Guards against silently using one encoding for every model.
    text = "Régulièrement, les ingénieurs évaluent les métriques: 成功の指標 " * 20
    assert counter.count_text(text, "gpt-4o") != counter.count_text(text, "gpt-4")


def test_multipart_content_counts_its_text(counter: TokenCounter) -> None:
    parts = [{"type": "text", "text": "first part, "}, {"type": "text", "text": "second part"}]
    as_string = [{"role": "user", "content": "first part, second part"}]
    assert counter.count_messages([{"role": "user", "content": parts}], "gpt-4o") == (
        counter.count_messages(as_string, "gpt-4o")
    )


def test_provider_usage_is_preferred_when_complete(counter: TokenCounter) -> None:
    usage = counter.usage("gpt-4o", MESSAGES, "an answer", ProviderUsage(123, 45))
    assert (usage.prompt_tokens, usage.completion_tokens, usage.source) == (123, 45, "provider")
    assert usage.total_tokens == 168


def test_partial_provider_usage_falls_back_to_counting(counter: TokenCounter) -> None:
    usage = counter.usage("llama3.1:8b", MESSAGES, "an answer", ProviderUsage(None, 7))
    encoding = tiktoken.get_encoding("cl100k_base")
    assert usage.source == "approx:cl100k_base"
    assert usage.prompt_tokens == reference_message_tokens(encoding, MESSAGES)
    assert usage.completion_tokens == len(encoding.encode("an answer"))


def test_extractive_provider_tokens_are_counted(counter: TokenCounter) -> None:
    usage = counter.usage("ladder-extractive", MESSAGES, "Extracted: KPI table.")
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0


def test_counting_works_with_the_network_blocked(counter: TokenCounter) -> None:
    import socket

    # The autouse fixture in tests/conftest.py is active: prove it, then count.
    with pytest.raises(RuntimeError, match="network is blocked"):
        socket.create_connection(("93.184.216.34", 443), timeout=1)
    assert counter.count_text("hello world", "gpt-4o") == 2


def test_fresh_process_with_empty_tiktoken_cache_uses_packaged_files(tmp_path: Path) -> None:
    """A new interpreter, an empty cache dir, sockets disabled: the packaged BPE files must do."""
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    script = """
import json, os, socket, sys
def refuse(*a, **k):
    raise OSError("network disabled for this test")
socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from gateway.usage.tokens import TokenCounter
c = TokenCounter()
out = {"o200k": c.count_text("hello world, offline", "gpt-4o"),
       "cl100k": c.count_text("hello world, offline", "gpt-4"),
       "files": sorted(os.listdir(os.environ["TIKTOKEN_CACHE_DIR"]))}
print(json.dumps(out))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LADDER_")}
    env["TIKTOKEN_CACHE_DIR"] = str(cache)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    prepare_offline_encodings()
    assert result["o200k"] == len(
        tiktoken.get_encoding("o200k_base").encode("hello world, offline")
    )
    assert result["cl100k"] == len(
        tiktoken.get_encoding("cl100k_base").encode("hello world, offline")
    )
    assert len(result["files"]) == 2  # both packaged encodings unpacked into the empty dir


def test_warm_up_loads_only_the_tables_the_named_models_use(tmp_path: Path) -> None:
    """Each BPE table is 70-100 MB of a process: the gateway warms the ones its routed
    models count with (and the default); any other loads when first used."""
    script = """
import json, tiktoken.registry as registry
from gateway.usage.tokens import TokenCounter
c = TokenCounter()
c.warm_up(["llama3.2:3b", "ladder-extractive", None])
local = sorted(registry.ENCODINGS)
c.warm_up(["openai/gpt-4o"])
routed = sorted(registry.ENCODINGS)
fresh = TokenCounter()
counted = fresh.count_text("hello world", "gpt-4o")
print(json.dumps({"local": local, "routed": routed, "counted": counted}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LADDER_")}
    env["TIKTOKEN_CACHE_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"local": ["cl100k_base"], "routed": ["cl100k_base", "o200k_base"], "counted": 2}


def test_pydantic_messages_count_like_dicts(counter: TokenCounter) -> None:
    from pydantic import BaseModel

    class ChatMessage(BaseModel):
        role: str
        content: str
        name: str | None = None

    models = [ChatMessage(**m) for m in MESSAGES]
    assert counter.count_messages(models, "gpt-4o") == counter.count_messages(MESSAGES, "gpt-4o")
