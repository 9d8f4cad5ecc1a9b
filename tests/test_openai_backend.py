"""The OpenAI-compatible backend against a real local chat-completions server (tests/chat_server)."""
from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

import pytest

from core.generation.base import GenerationError, GenerationRequest
from core.generation.openai_api import NO_BODY_WARNING, PLACEHOLDER_KEY, OpenAIBackend
from tests.chat_server import ANSWER, MALFORMED_ANSWER, ChatServer

KEY = "sk-test-5f3a9c1e7b2d4e6f8a0b"
MODEL = "test-model"
REQUEST = GenerationRequest(targets=("把握", "促す"), genres=("恋愛", "学園"), style="文学風",
                            max_new_tokens=500, temperature=0.7, top_p=0.9, seed=42)


@pytest.fixture(autouse=True)
def no_openai_env(monkeypatch):
    """A developer's own OPENAI_* variables must not leak into these tests."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "NONESTORY_OPENAI_MODEL", "OPENAI_LOG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    with ChatServer(api_key=KEY, models=(MODEL,)) as s:
        yield s


def backend_for(server: ChatServer, **kw) -> OpenAIBackend:
    kw = {"model": MODEL, "base_url": server.url, "api_key": KEY, "timeout": 5, "max_retries": 0, **kw}
    return OpenAIBackend(**kw)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def test_stream_deltas_concatenate_to_the_answer(server):
    deltas = list(backend_for(server).stream(REQUEST))
    assert len(deltas) > 5  # really streamed, not one block
    assert "".join(deltas) == ANSWER
    assert server.chat_requests[-1].body["stream"] is True


def test_finish_parses_title_style_genre_body(server):
    backend = backend_for(server)
    draft = backend.finish(REQUEST, "".join(backend.stream(REQUEST)))
    assert draft.title == "放課後の約束"
    assert draft.style == "文学風"
    assert draft.genre == "恋愛・学園"
    assert draft.text.startswith("春の夕暮れ")
    assert "把握" in draft.text and "促す" in draft.text
    assert "タイトル" not in draft.text
    assert draft.warning == ""
    assert "把握、促す" in draft.prompt


def test_finish_keeps_malformed_answer_with_warning():
    with ChatServer(malformed=True) as server:
        backend = backend_for(server)
        draft = backend.finish(REQUEST, "".join(backend.stream(REQUEST)))
    assert draft.text == MALFORMED_ANSWER
    assert draft.title == ""
    assert draft.warning == NO_BODY_WARNING


def test_request_carries_model_sampling_length_and_targets(server):
    list(backend_for(server).stream(REQUEST))
    got = server.chat_requests[-1]
    assert got.bearer == KEY
    body = got.body
    assert body["model"] == MODEL
    assert body["stream"] is True
    assert body["temperature"] == pytest.approx(0.7)
    assert body["top_p"] == pytest.approx(0.9)
    assert body["max_tokens"] == 1500  # 500 local tokens x 3 (see API_TOKENS_PER_LOCAL_TOKEN)
    assert body["seed"] == 42
    user = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    assert "把握" in user and "促す" in user and "恋愛・学園" in user


def test_request_without_seed_sends_no_seed(server):
    list(backend_for(server).stream(GenerationRequest(targets=("把握",))))
    assert "seed" not in server.chat_requests[-1].body


def test_bad_key_is_one_line_and_never_leaks(server, caplog):
    wrong = "sk-wrong-9d8c7b6a5f4e3d2c1b0a"
    for name in ("openai", "httpx2", "httpcore2", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    backend = backend_for(server, api_key=wrong)
    with pytest.raises(GenerationError) as info:
        list(backend.stream(REQUEST))
    message = str(info.value)
    assert message == "The API rejected the key (401); check OPENAI_API_KEY."
    assert "\n" not in message
    assert server.chat_requests[-1].bearer == wrong  # it was sent, and the server echoed it back
    assert wrong not in repr(backend)
    assert wrong not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert caplog.records  # the loggers did run at DEBUG
    assert wrong not in caplog.text
    assert all(wrong not in str(r.args) for r in caplog.records)


def test_error_text_from_server_is_scrubbed_of_the_key():
    with ChatServer(models=(MODEL,)) as server:
        # A server that puts the key in the model-not-found message must not get it through.
        backend = backend_for(server, model=f"model-{KEY}")
        with pytest.raises(GenerationError) as info:
            list(backend.stream(REQUEST))
    assert KEY not in str(info.value)


def test_server_down_says_cannot_reach():
    url = closed_port_url()
    backend = OpenAIBackend(model=MODEL, base_url=url, api_key=KEY, timeout=2, max_retries=0)
    with pytest.raises(GenerationError, match=r"^Cannot reach the API at .*; is the server running\?$") as info:
        list(backend.stream(REQUEST))
    assert url in str(info.value)


def test_two_server_errors_then_success_with_two_retries():
    with ChatServer(fail_first=2) as server:
        text = "".join(backend_for(server, max_retries=2).stream(REQUEST))
        assert text == ANSWER
        assert len(server.chat_requests) == 3


def test_server_errors_beyond_retries_are_one_sentence():
    with ChatServer(fail_first=5) as server:
        with pytest.raises(GenerationError, match=r"server failed \(HTTP 500\) after 2 tries"):
            list(backend_for(server, max_retries=1).stream(REQUEST))
        assert len(server.chat_requests) == 2


def test_rate_limit_is_named():
    with ChatServer(fail_first=1, fail_status=429) as server:
        with pytest.raises(GenerationError, match=r"rate-limiting requests \(429\)"):
            list(backend_for(server).stream(REQUEST))


def test_timeout_fails_quickly():
    with ChatServer(delay=3) as server:
        backend = backend_for(server, timeout=0.5)
        start = time.monotonic()
        with pytest.raises(GenerationError, match=r"did not answer within 0.5 s"):
            list(backend.stream(REQUEST))
        assert time.monotonic() - start < 2


def test_unknown_model_is_404(server):
    with pytest.raises(GenerationError, match=r"no model 'gpt-nonexistent' \(404\)"):
        list(backend_for(server, model="gpt-nonexistent").stream(REQUEST))


def test_batch_of_three_returns_three_drafts_in_order(server):
    requests = [GenerationRequest(targets=(w,), seed=i) for i, w in enumerate(("把握", "促す", "懸念"))]
    drafts = backend_for(server).generate_batch(requests)
    assert [d.title for d in drafts] == ["放課後の約束"] * 3
    assert [d.prompt for d in drafts] == [backend_for(server).finish(r, "").prompt for r in requests]
    sent = sorted(r.body["seed"] for r in server.chat_requests)
    assert sent == [0, 1, 2]
    assert all(r.body.get("stream") in (None, False) for r in server.chat_requests)


def test_batch_failure_is_a_generation_error(server):
    with pytest.raises(GenerationError, match=r"\(401\)"):
        backend_for(server, api_key="sk-wrong").generate_batch([REQUEST, REQUEST])


def test_settings_from_environment(server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("NONESTORY_OPENAI_MODEL", MODEL)
    backend = OpenAIBackend(timeout=5, max_retries=0)
    assert backend.model == MODEL
    assert "".join(backend.stream(REQUEST)) == ANSWER
    assert server.chat_requests[-1].bearer == KEY


def test_settings_from_secrets_file(server):
    secrets = Path(os.environ["NONESTORY_SECRETS"])
    secrets.write_text(f'OPENAI_BASE_URL = "{server.url}"\nOPENAI_API_KEY = "{KEY}"\n'
                       f'NONESTORY_OPENAI_MODEL = "{MODEL}"\n', encoding="utf-8")
    backend = OpenAIBackend(timeout=5, max_retries=0)
    assert "".join(backend.stream(REQUEST)) == ANSWER
    assert server.chat_requests[-1].body["model"] == MODEL


def test_local_server_without_key_gets_placeholder():
    with ChatServer() as server:
        backend = OpenAIBackend(base_url=server.url, max_retries=0)
        assert backend.model == "gpt-4o-mini"
        assert "placeholder" in repr(backend)
        list(backend.stream(REQUEST))
        assert server.chat_requests[-1].bearer == PLACEHOLDER_KEY


def test_no_key_and_no_base_url_says_what_to_set():
    backend = OpenAIBackend()
    assert "missing" in repr(backend)
    with pytest.raises(GenerationError, match="OPENAI_API_KEY"):
        list(backend.stream(REQUEST))


def test_repr_hides_the_key(server):
    backend = backend_for(server)
    assert KEY not in repr(backend) and KEY not in str(backend)
    assert server.url in repr(backend)


def test_models_endpoint_lists_models(server):
    import json
    import urllib.request

    req = urllib.request.Request(f"{server.url}/models", headers={"Authorization": f"Bearer {KEY}"})
    listing = json.loads(urllib.request.urlopen(req, timeout=5).read())
    assert [m["id"] for m in listing["data"]] == [MODEL]


@pytest.mark.parametrize("premise, continues", [("", ""), ("舞台は雪国の温泉宿。主人公は若女将。", ""),
                                                ("", "春が来た。……彼は明日も会おうと告げた。"),
                                                ("舞台は雪国の温泉宿。", "前の話は吹雪の夜に終わった。")])
def test_the_server_gets_the_premise_and_the_sequel_only_when_there_are_some(server, premise, continues):
    request = GenerationRequest(targets=("把握",), seed=1, premise=premise, continues=continues)
    backend = backend_for(server)
    draft = backend.finish(request, "".join(backend.stream(request)))
    user = [m for m in server.chat_requests[-1].body["messages"] if m["role"] == "user"][-1]["content"]
    assert (f"必ずこの設定に従って書いてください）：{premise}\n" in user) is bool(premise)
    assert ("設定" in user) is bool(premise)  # no empty 設定 line when there is no premise
    assert (f"続編です。登場人物と出来事を引き継ぎ、その後を書いてください）：{continues}\n" in user) is bool(continues)
    assert ("前情提要" in user) is bool(continues)
    assert draft.prompt == user and draft.text.startswith("春の夕暮れ")  # the prompt kept with the story
