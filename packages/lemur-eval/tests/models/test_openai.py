"""The openai backend's HTTP behaviour against scripted servers on 127.0.0.1: retries, errors, limits."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

pytest.importorskip("httpx", reason="the openai backend tests need httpx: pip install 'lemur-eval[openai]'")

from lemur.core.errors import LemurError
from lemur.eval.cache import CachingBackend, ResponseCache
from lemur.eval.models.base import GenerationRequest, LoglikelihoodRequest, Message
from lemur.eval.models.errors import BackendOptionError, ModelServerError, UnsupportedCapabilityError
from lemur.eval.models.openai import OpenAIBackend, _continuation_logprob

#: (status, headers, JSON body, seconds to wait before answering)
Reply = tuple[int, dict[str, str], Any, float]


class FakeServer:
    """Answers every request with ``script(method, path, body)``; records what it received.

    Use as a context manager; ``url`` is the ``/v1`` root.
    """

    def __init__(self, script: Callable[[str, str, Any], Reply]) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                with fake._lock:
                    fake.requests.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "body": body,
                            "headers": dict(self.headers),
                            "time": time.monotonic(),
                        }
                    )
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    status, headers, reply, delay = fake.script(self.command, self.path, body)
                    time.sleep(delay)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1
                data = json.dumps(reply).encode()
                try:
                    self.send_response(status)
                    for key, value in {"content-type": "application/json", **headers}.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def posts(self) -> list[dict[str, Any]]:
        """The POST requests received, in order."""
        return [r for r in self.requests if r["method"] == "POST"]


def completion(text: str, finish_reason: str = "stop") -> dict[str, Any]:
    """An OpenAI completions answer with one choice."""
    return {"object": "text_completion", "choices": [{"index": 0, "text": text, "finish_reason": finish_reason}]}


def error(message: str) -> dict[str, Any]:
    """An OpenAI-style error body."""
    return {"error": {"message": message, "type": "invalid_request_error"}}


MODELS = {"object": "list", "data": [{"id": "tiny", "object": "model"}]}
FAST = {"backoff": "0.01", "max_backoff": "0.05", "check": "false", "model": "tiny"}


def scripted(*replies, models=MODELS):
    """A script that answers GET /models with ``models`` and POSTs with ``replies`` in turn (the last repeats)."""
    queue = list(replies)

    def script(method, path, body):
        if method == "GET":
            return 200, {}, models, 0.0
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return script


def test_429_and_5xx_are_retried_until_success() -> None:
    script = scripted((429, {}, error("slow down"), 0), (500, {}, error("boom"), 0), (200, {}, completion("ok"), 0))
    with FakeServer(script) as server:
        backend = OpenAIBackend(server.url, **FAST)
        [generation] = backend.generate([GenerationRequest(prompt="hi", max_tokens=3)])
    assert generation.text == "ok"
    assert len(server.posts()) == 3
    body = server.posts()[0]["body"]
    assert body == {"model": "tiny", "prompt": "hi", "max_tokens": 3, "temperature": 0.0}


def test_retry_after_header_is_honoured() -> None:
    script = scripted((429, {"Retry-After": "1"}, error("rate limited"), 0), (200, {}, completion("ok"), 0))
    with FakeServer(script) as server:
        backend = OpenAIBackend(server.url, **{**FAST, "max_backoff": "5"})
        backend.generate([GenerationRequest(prompt="hi")])
    first, second = server.posts()
    assert second["time"] - first["time"] >= 0.95


def test_backoff_grows_exponentially() -> None:
    with FakeServer(scripted((503, {}, error("busy"), 0))) as server:
        backend = OpenAIBackend(server.url, model="tiny", check=False, backoff="0.1", max_backoff="10", max_retries="3")
        with pytest.raises(ModelServerError):
            backend.generate([GenerationRequest(prompt="hi")])
    times = [r["time"] for r in server.posts()]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # waits are 0.1 * 2**attempt scaled by a jitter in [0.5, 1]
    for attempt, gap in enumerate(gaps):
        assert 0.05 * 2**attempt - 0.01 <= gap <= 0.1 * 2**attempt + 0.2


def test_giving_up_says_what_failed_and_how_often() -> None:
    with FakeServer(scripted((503, {}, error("overloaded"), 0))) as server:
        backend = OpenAIBackend(server.url, **{**FAST, "max_retries": "2"})
        with pytest.raises(ModelServerError) as caught:
            backend.generate([GenerationRequest(prompt="hi")])
    assert str(caught.value) == (
        f"openai backend: POST {server.url}/completions failed after 3 attempts: HTTP 503: overloaded"
    )
    assert len(server.posts()) == 3


def test_client_errors_are_not_retried_and_keep_the_servers_message(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeServer(scripted((401, {}, error("bad key"), 0))) as server:
        backend = OpenAIBackend(server.url, **FAST)
        with pytest.raises(ModelServerError) as caught:
            backend.generate([GenerationRequest(prompt="hi")])
    assert len(server.posts()) == 1
    assert str(caught.value).endswith("was refused with HTTP 401: bad key (is $OPENAI_API_KEY set?)")


def test_unreachable_server_is_one_line_usage_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ModelServerError) as caught:
        OpenAIBackend(f"http://127.0.0.1:{port}/v1", max_retries="0")
    message = str(caught.value)
    assert message.startswith(f"openai backend: GET http://127.0.0.1:{port}/v1/models failed after 1 attempt: ")
    assert "cannot connect" in message and "is the server running?" in message
    assert "\n" not in message
    assert isinstance(caught.value, LemurError) and caught.value.exit_code == 2


def test_slow_server_times_out() -> None:
    with FakeServer(scripted((200, {}, completion("late"), 2.0))) as server:
        backend = OpenAIBackend(server.url, **{**FAST, "timeout": "0.3", "max_retries": "1"})
        started = time.monotonic()
        with pytest.raises(ModelServerError, match=r"failed after 2 attempts: no answer within 0.3 s"):
            backend.generate([GenerationRequest(prompt="hi")])
    assert time.monotonic() - started < 1.5


def test_api_key_comes_from_the_named_environment_variable(monkeypatch) -> None:
    monkeypatch.setenv("LEMUR_TEST_KEY", "sk-test-123")
    with FakeServer(scripted((200, {}, completion("ok"), 0))) as server:
        OpenAIBackend(server.url, api_key_env="LEMUR_TEST_KEY", **FAST).generate([GenerationRequest(prompt="hi")])
    assert server.posts()[0]["headers"]["Authorization"] == "Bearer sk-test-123"


def test_the_only_served_model_is_picked_and_a_wrong_one_rejected() -> None:
    with FakeServer(scripted((200, {}, completion("ok"), 0))) as server:
        assert OpenAIBackend(server.url).model == "tiny"
        with pytest.raises(ModelServerError, match="does not serve model 'big'; it serves: tiny"):
            OpenAIBackend(server.url, model="big")
    two = {"data": [{"id": "a"}, {"id": "b"}]}
    with FakeServer(scripted((200, {}, completion("ok"), 0), models=two)) as server:
        with pytest.raises(BackendOptionError, match=r"serves 2 models \(a, b\); name one with model=NAME"):
            OpenAIBackend(server.url)


def test_chat_requests_go_to_chat_completions_and_stops_are_cut() -> None:
    def script(method, path, body):
        if path.endswith("/chat/completions"):
            answer = {"choices": [{"message": {"role": "assistant", "content": "a; b END c"}, "finish_reason": "stop"}]}
            return 200, {}, answer, 0
        return 200, {}, completion("one two three four five six", "length"), 0

    stops = ("s1", "s2", "s3", "s4", " four")
    with FakeServer(script) as server:
        backend = OpenAIBackend(server.url, **FAST)
        chat, plain = backend.generate(
            [
                GenerationRequest(messages=(Message("user", "hi"),), stop=("END",)),
                GenerationRequest(prompt="count", stop=stops),
            ]
        )
    assert (chat.text, chat.finish_reason) == ("a; b ", "stop")
    assert (plain.text, plain.finish_reason) == ("one two three", "stop")
    by_path = {r["path"]: r["body"] for r in server.posts()}
    assert by_path["/v1/chat/completions"]["messages"] == [{"role": "user", "content": "hi"}]
    assert by_path["/v1/completions"]["stop"] == ["s1", "s2", "s3", "s4"]


def chat_answer(content: str) -> dict[str, Any]:
    """An OpenAI chat-completions answer with one choice."""
    return {"choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}


#: Lemur's GSM8K chat form: the question as the user turn, the answer opened with "Answer:".
PREFILLED = GenerationRequest(
    messages=(Message("user", "Question: what is 2 + 2?"), Message("assistant", "Answer:")), stop=("\n",)
)
OPEN = GenerationRequest(messages=(Message("user", "Question: what is 2 + 2?"),))


def test_a_prefilled_conversation_asks_the_server_to_continue_it() -> None:
    with FakeServer(scripted((200, {}, chat_answer(" 4\nQuestion"), 0))) as server:
        backend = OpenAIBackend(server.url, concurrency="1", **FAST)
        prefilled, other = backend.generate([PREFILLED, OPEN])
    assert prefilled.text == " 4"
    first, second = (r["body"] for r in server.posts())
    assert first["messages"][-1] == {"role": "assistant", "content": "Answer:"}
    assert (first["continue_final_message"], first["add_generation_prompt"]) == (True, False)
    assert "continue_final_message" not in second and "add_generation_prompt" not in second


def test_prefill_plain_sends_the_conversation_as_is() -> None:
    with FakeServer(scripted((200, {}, chat_answer(" 4"), 0))) as server:
        OpenAIBackend(server.url, prefill="plain", **FAST).generate([PREFILLED])
    [body] = [r["body"] for r in server.posts()]
    assert set(body) == {"model", "max_tokens", "temperature", "stop", "messages"}


def test_prefill_error_refuses_before_sending_and_lets_other_chats_through() -> None:
    with FakeServer(scripted((200, {}, chat_answer("4"), 0))) as server:
        backend = OpenAIBackend(server.url, prefill="error", **FAST)
        with pytest.raises(UnsupportedCapabilityError, match="ends with an assistant message .* prefill=error"):
            backend.generate([OPEN, PREFILLED])
        assert server.posts() == []
        assert backend.generate([OPEN])[0].text == "4"


def test_a_server_refusing_continue_final_message_is_a_clear_unsupported_error() -> None:
    refusal = (400, {}, error("Unrecognized request argument supplied: continue_final_message"), 0)
    with FakeServer(scripted(refusal)) as server:
        backend = OpenAIBackend(server.url, **FAST)
        with pytest.raises(UnsupportedCapabilityError) as caught:
            backend.generate([PREFILLED])
    message = str(caught.value)
    assert message.startswith(f"openai backend: the server at {server.url} refused a conversation that ends with")
    assert "(HTTP 400: Unrecognized request argument supplied: continue_final_message)" in message
    assert "prefill=error" in message and "\n" not in message
    assert len(server.posts()) == 1


def test_a_bad_prefill_value_names_the_allowed_ones() -> None:
    with pytest.raises(
        BackendOptionError, match=r"option prefill='vllm' is not allowed; allowed: continue, error, plain"
    ):
        OpenAIBackend("http://127.0.0.1:9/v1", prefill="vllm", **FAST)


def test_the_prefill_option_is_part_of_the_cache_key(tmp_path) -> None:
    cache = ResponseCache(tmp_path / "calls.sqlite")
    with FakeServer(scripted((200, {}, chat_answer(" 4"), 0))) as server:
        for prefill, expected_posts in [("continue", 1), ("continue", 1), ("plain", 2), ("error", 2)]:
            backend = CachingBackend(OpenAIBackend(server.url, prefill=prefill, **FAST), cache)
            if prefill == "error":
                with pytest.raises(UnsupportedCapabilityError):
                    backend.generate([PREFILLED])
            else:
                assert backend.generate([PREFILLED])[0].text == " 4"
            assert len(server.posts()) == expected_posts, f"prefill={prefill}"
    cache.close()


def test_concurrency_is_bounded() -> None:
    with FakeServer(scripted((200, {}, completion("ok"), 0.2))) as server:
        backend = OpenAIBackend(server.url, concurrency="2", **FAST)
        generations = backend.generate([GenerationRequest(prompt=f"p{i}") for i in range(6)])
    assert [g.text for g in generations] == ["ok"] * 6
    assert server.max_in_flight == 2


def test_modes_refuse_the_other_kind_of_request() -> None:
    with FakeServer(scripted((200, {}, completion("ok"), 0))) as server:
        chat_only = OpenAIBackend(server.url, mode="chat", **FAST)
        with pytest.raises(UnsupportedCapabilityError, match="a raw prompt needs mode=auto or mode=completions"):
            chat_only.generate([GenerationRequest(prompt="hi")])
        with pytest.raises(NotImplementedError, match="mode=chat cannot score text"):
            chat_only.loglikelihood([LoglikelihoodRequest("a", " b")])
    assert server.posts() == []


def test_server_without_echo_logprobs_is_a_clear_unsupported_error() -> None:
    reply = (400, {}, error("echo is not supported with logprobs"), 0)
    with FakeServer(scripted(reply)) as server:
        backend = OpenAIBackend(server.url, **FAST)
        with pytest.raises(UnsupportedCapabilityError) as caught:
            backend.loglikelihood([LoglikelihoodRequest("2 + 2 =", " 4")])
    assert str(caught.value) == (
        f"openai backend: the server at {server.url} cannot score text (completions with echo and logprobs "
        "was refused with HTTP 400: echo is not supported with logprobs)"
    )
    assert isinstance(caught.value, NotImplementedError) and caught.value.exit_code == 2
    assert server.posts()[0]["body"] == {
        "model": "tiny",
        "prompt": "2 + 2 = 4",
        "max_tokens": 0,
        "echo": True,
        "logprobs": 1,
        "temperature": 0.0,
    }


def test_a_server_refusing_max_tokens_0_is_asked_for_one_token_instead() -> None:
    echo = {
        "choices": [
            {
                "text": "2 + 2 = 4!",
                "logprobs": {
                    "tokens": ["2", " +", " 2", " =", " 4", "!"],
                    "token_logprobs": [None, -1.0, -2.0, -3.0, -0.25, -7.0],
                    "text_offset": [0, 1, 3, 5, 7, 9],
                },
            }
        ]
    }

    def script(method, path, body):
        if body["max_tokens"] == 0:
            return 400, {}, error("max_tokens must be at least 1"), 0
        return 200, {}, echo, 0

    with FakeServer(script) as server:
        backend = OpenAIBackend(server.url, concurrency="1", **FAST)
        scores = backend.loglikelihood([LoglikelihoodRequest("2 + 2 =", " 4"), LoglikelihoodRequest("2 +", " 2 = 4")])
    assert scores == [-0.25, -5.25]
    assert [r["body"]["max_tokens"] for r in server.posts()] == [0, 1, 1]


def test_continuation_tokens_are_found_by_offset() -> None:
    prompt = "2 + 2 = 4"
    # A zero-width BOS the server reports, the context tokens, then the continuation.
    tokens = ["<s>", "2", " +", " 2", " =", " 4"]
    values = [None, -1.0, -2.0, -3.0, -4.0, -0.5]
    offsets = [0, 0, 1, 3, 5, 7]
    assert _continuation_logprob(tokens, values, offsets, prompt, 7, "x") == -0.5
    assert _continuation_logprob(tokens, values, offsets, prompt, 5, "x") == -4.5
    # A token straddling the boundary carries continuation text, so it counts.
    assert _continuation_logprob(["2 +", " 2"], [-1.0, -2.0], [0, 3], "2 + 2", 2, "x") == -3.0
    # Tokens the server generated past the prompt are left out.
    assert _continuation_logprob(["a", " b", "!"], [-1.0, -2.0, -9.0], [0, 1, 3], "a b", 1, "x") == -2.0
    with pytest.raises(UnsupportedCapabilityError, match="no log-probability for token 'a'"):
        _continuation_logprob(["a", " b"], [None, -2.0], [0, 1], "a b", 0, "x")


def test_eval_run_against_an_unreachable_server_is_one_line_and_status_2(run_lemur, tmp_path, shared_data) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "run"
    result = run_lemur(
        "eval", "run", "--model", f"openai:http://127.0.0.1:{port}/v1,max_retries=0", "--benchmarks", "gsm8k",
        "--limit", "1", "--out", str(out), "--data-dir", str(shared_data), "--no-cache",
    )  # fmt: skip
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: openai backend: GET http://127.0.0.1:{port}/v1/models failed after 1 attempt: ")
    assert not out.exists()
