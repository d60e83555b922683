"""The streamed chat events: a word's event is built from a per-stream head and tail
around the JSON string of the word. It must be byte for byte what encoding the whole
chunk gives, for any word a model can produce."""

from __future__ import annotations

import json

import pytest

from gateway.routes.chat import _MARK, _content_event_parts, _event

WORDS = ["Hello ", 'say "hi" ', "back\\slash ", "naïve ", "数据 ", "🙂 ", "tab\t", "line\n",
         "\x07bell ", "</script> ", "\u2028sep ", "", " "]


def chunk(delta: dict[str, object], model: str = "ladder-chat") -> str:
    return _event({"id": "chatcmpl-abc", "object": "chat.completion.chunk", "created": 1700000000,
                   "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})


@pytest.mark.parametrize("model", ["ladder-chat", 'odd "model" \\ name', "modèle"])
def test_word_events_equal_whole_chunk_encoding(model: str) -> None:
    head, tail = _content_event_parts(chunk({"content": _MARK}, model))
    for word in WORDS:
        fast = f"{head}{json.dumps(word, ensure_ascii=False)}{tail}"
        assert fast == chunk({"content": word}, model)
        assert json.loads(fast.removeprefix("data: "))["choices"][0]["delta"]["content"] == word


def test_an_event_without_the_marker_is_refused() -> None:
    with pytest.raises(ValueError, match="marker"):
        _content_event_parts(chunk({"content": "plain"}))


# The whole stream, parsed by the real openai SDK, is checked in test_openai_sdk.py.
