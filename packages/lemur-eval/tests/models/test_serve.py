"""``lemur serve`` over the tiny model, used through the openai backend: same answers as hf directly."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="lemur serve tests need fastapi: pip install 'lemur-eval[serve]'")
pytest.importorskip("uvicorn", reason="lemur serve tests need uvicorn: pip install 'lemur-eval[serve]'")
httpx = pytest.importorskip("httpx", reason="lemur serve tests need httpx: pip install 'lemur-eval[openai]'")

from lemur.eval.benchmarks.gsm8k import GSM8K  # noqa: E402
from lemur.eval.models.base import GenerationRequest, LoglikelihoodRequest, Message  # noqa: E402
from lemur.eval.models.errors import ModelServerError  # noqa: E402
from lemur.eval.models.openai import OpenAIBackend  # noqa: E402

GENERATIONS = [
    GenerationRequest(prompt="The quick brown", max_tokens=8),
    GenerationRequest(prompt="def add(a, b):\n", max_tokens=12),
    GenerationRequest(prompt="SELECT", max_tokens=6),
    GenerationRequest(messages=(Message("system", "Be brief."), Message("user", "What is 2 + 2?")), max_tokens=10),
    GenerationRequest(messages=(Message("user", "Write SQL."),), max_tokens=7),
]
LOGLIKELIHOODS = [
    LoglikelihoodRequest("2 + 2 =", " 4"),
    LoglikelihoodRequest("The capital of France is ", "Paris."),
    LoglikelihoodRequest("def add(a, b):\n    return", " a + b"),
    LoglikelihoodRequest("", "The quick brown fox"),
    LoglikelihoodRequest("SELECT name FROM users WHERE", " age > 30;"),
    LoglikelihoodRequest("Question: what is 2 + 2?", ""),
]


@pytest.fixture(scope="module")
def server_and_url(hf_backend, lemur_serve):
    """The tiny hf backend served on a free 127.0.0.1 port in a thread; yields the server and its ``/v1`` URL."""
    with lemur_serve(hf_backend) as served:
        yield served


@pytest.fixture(scope="module")
def served(server_and_url) -> str:
    """The ``/v1`` URL of the served tiny model."""
    return server_and_url[1]


@pytest.fixture(scope="module")
def client_backend(served):
    backend = OpenAIBackend(served, concurrency="4", max_retries="0")
    yield backend
    backend.close()


def with_stops_that_occur(backend, requests: list[GenerationRequest]) -> list[GenerationRequest]:
    """The requests, every other one given a stop string taken from the middle of its own output."""
    outputs = backend.generate(requests)
    return [
        dataclasses.replace(r, stop=(o.text[len(o.text) // 2 :][:2], "NEVER")) if i % 2 else r
        for i, (r, o) in enumerate(zip(requests, outputs, strict=True))
    ]


def test_openai_backend_over_serve_generates_what_hf_generates(hf_backend, client_backend) -> None:
    requests = with_stops_that_occur(hf_backend, GENERATIONS)
    direct = hf_backend.generate(requests)
    remote = client_backend.generate(requests)
    assert remote == direct
    assert {g.finish_reason for g in direct} == {"stop", "length"}


def test_openai_backend_over_serve_scores_what_hf_scores(hf_backend, client_backend) -> None:
    direct = hf_backend.loglikelihood(LOGLIKELIHOODS)
    remote = client_backend.loglikelihood(LOGLIKELIHOODS)
    assert remote == pytest.approx(direct, abs=1e-4)
    assert direct[-1] == 0.0 and all(score < 0 for score in direct[:-1])


def test_concurrent_requests_are_batched(server_and_url, hf_backend) -> None:
    server, url = server_and_url
    batcher = server.config.app.state.batcher
    requests = [GenerationRequest(prompt=f"SELECT {i}", max_tokens=8) for i in range(16)]
    client = OpenAIBackend(url, concurrency="16", max_retries="0")
    before = batcher.calls_made
    remote = client.generate(requests)
    calls = batcher.calls_made - before
    client.close()
    assert remote == hf_backend.generate(requests)
    assert 2 <= calls <= 8, f"16 concurrent requests took {calls} backend calls with max_batch=8"


def test_serve_lists_its_model_and_the_client_picks_it(served, client_backend) -> None:
    listing = httpx.get(f"{served}/models").json()
    assert [m["id"] for m in listing["data"]] == ["tiny"]
    assert client_backend.model == "tiny"


def test_list_prompts_are_answered_in_order(served, hf_backend) -> None:
    prompts = ["The quick brown", "SELECT", "def add(a, b):\n"]
    body = httpx.post(f"{served}/completions", json={"model": "tiny", "prompt": prompts, "max_tokens": 5}).json()
    direct = hf_backend.generate([GenerationRequest(prompt=p, max_tokens=5) for p in prompts])
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert [c["text"] for c in body["choices"]] == [g.text for g in direct]


@pytest.mark.parametrize(
    ("path", "payload", "message"),
    [
        ("/completions", {"model": "tiny", "prompt": "a", "stream": True}, "lemur serve does not stream"),
        ("/completions", {"model": "tiny", "prompt": "a", "n": 2}, "one choice per prompt; send n=1"),
        ("/completions", {"model": "tiny", "prompt": [1, 2]}, "token ids are not supported"),
        ("/completions", {"model": "tiny", "prompt": "a", "max_tokens": -1}, "max_tokens must be a non-negative"),
        ("/chat/completions", {"model": "tiny", "messages": []}, "messages must be a non-empty list"),
        ("/chat/completions", {"model": "tiny", "messages": [{"role": "tool", "content": "x"}]}, "role must be"),
        ("/chat/completions", {"model": "other", "messages": [{"role": "user", "content": "x"}]}, "not served here"),
        (
            "/chat/completions",
            {
                "messages": [{"role": "assistant", "content": "A:"}],
                "continue_final_message": True,
                "add_generation_prompt": True,
            },
            "continue_final_message and add_generation_prompt cannot both be true",
        ),
        (
            "/chat/completions",
            {"messages": [{"role": "user", "content": "x"}], "continue_final_message": True},
            "needs a final assistant message to continue; the last message is user's",
        ),
        (
            "/chat/completions",
            {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "A:"}]},
            "send continue_final_message=true and add_generation_prompt=false",
        ),
        (
            "/chat/completions",
            {"messages": [{"role": "user", "content": "x"}], "add_generation_prompt": False},
            "add_generation_prompt=false is served only with continue_final_message=true",
        ),
        (
            "/chat/completions",
            {"messages": [{"role": "assistant", "content": "A:"}], "continue_final_message": "yes"},
            "continue_final_message must be true or false, got 'yes'",
        ),
    ],
)
def test_unsupported_requests_get_an_openai_style_error(served, path, payload, message) -> None:
    response = httpx.post(served + path, json=payload)
    assert response.status_code in (400, 404)
    assert message in response.json()["error"]["message"]


def test_logprobs_with_generation_cover_the_generated_tokens(served, hf_backend) -> None:
    """As lm-evaluation-harness asks (echo, logprobs, max_tokens=1): prompt and generated tokens scored."""
    prompt = "2 + 2 = 4"
    payload = {"model": "tiny", "prompt": prompt, "max_tokens": 3, "logprobs": 1}
    plain = httpx.post(f"{served}/completions", json=payload).json()["choices"][0]
    echoed = httpx.post(f"{served}/completions", json={**payload, "echo": True}).json()["choices"][0]
    [generated] = hf_backend.generate([GenerationRequest(prompt=prompt, max_tokens=3)])
    [scored] = hf_backend.score_prompts([prompt + generated.text])
    assert echoed["text"] == prompt + generated.text and plain["text"] == generated.text
    assert echoed["logprobs"]["token_logprobs"] == pytest.approx([t.logprob for t in scored], abs=1e-5)
    assert echoed["logprobs"]["text_offset"] == [t.offset for t in scored]
    new_tokens = [t for t in scored if t.offset >= len(prompt)]
    assert new_tokens, "the generation must add tokens after the prompt"
    assert plain["logprobs"]["tokens"] == [t.text for t in new_tokens]
    assert plain["logprobs"]["text_offset"][0] == len(prompt)


def test_echo_without_scoring_returns_prompt_and_generation(served, hf_backend) -> None:
    body = httpx.post(
        f"{served}/completions", json={"model": "tiny", "prompt": "SELECT", "max_tokens": 4, "echo": True}
    ).json()
    [direct] = hf_backend.generate([GenerationRequest(prompt="SELECT", max_tokens=4)])
    assert body["choices"][0]["text"] == "SELECT" + direct.text


class BodyRecorder:
    """An ASGI wrapper that keeps ``(path, JSON body)`` of every POST the wrapped app receives, in ``bodies``."""

    def __init__(self, app) -> None:
        self.app = app
        self.bodies: list[tuple[str, object]] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        chunks: list[bytes] = []

        async def recording_receive():
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    self.bodies.append((scope["path"], json.loads(b"".join(chunks))))
            return message

        return await self.app(scope, recording_receive, send)


@pytest.fixture(scope="module", params=["model", "chatml"])
def templated(request, tiny_model, hf_backend, serve_app):
    """(hf backend with the template named by the param, URL of lemur serve over it, the server's BodyRecorder)."""
    from lemur.eval.models.hf import HFBackend
    from lemur.eval.serve import create_app

    if request.param == "model":
        direct = hf_backend
    else:
        direct = HFBackend(str(tiny_model), template=request.param, batch_size="4", device="cpu", dtype="float32")
    recorder = BodyRecorder(create_app(direct, "tiny", max_batch=8))
    with serve_app(recorder) as (_server, url):
        yield direct, url, recorder
    if direct is not hf_backend:
        direct.close()


def prefilled_requests(shared_data: Path) -> list[GenerationRequest]:
    """Lemur's GSM8K chat form for two real test questions (16 new tokens), and a BBH-style "A:" opening."""
    gsm8k = GSM8K(data_dir=shared_data, chat=True)
    requests = [dataclasses.replace(gsm8k.request(s), max_tokens=16) for s in itertools.islice(gsm8k.samples(), 2)]
    bbh = (
        Message("system", "Be brief."),
        Message("user", "Q: not ( True ) and ( True ) is"),
        Message("assistant", "A:"),
    )
    return [*requests, GenerationRequest(messages=bbh, max_tokens=10)]


def test_prefilled_chat_over_serve_generates_what_hf_generates(templated, shared_data) -> None:
    direct, url, recorder = templated
    requests = prefilled_requests(shared_data)
    assert [r.messages[-1] for r in requests] == [Message("assistant", "Answer:")] * 2 + [Message("assistant", "A:")]
    for request in requests:  # the template really leaves the assistant's turn open after the prefill
        assert direct.prompt_text(request).endswith(request.messages[-1].content)
    expected = direct.generate(requests)
    # The tiny model answers otherwise when the prefill is dropped, so equal answers below mean it was continued.
    assert direct.generate([dataclasses.replace(r, messages=r.messages[:-1]) for r in requests]) != expected
    client = OpenAIBackend(url, concurrency="1", max_retries="0")
    before = len(recorder.bodies)
    remote = client.generate(requests)
    client.close()
    assert remote == expected
    received = recorder.bodies[before:]
    assert [path for path, _ in received] == ["/v1/chat/completions"] * len(requests)
    for (_, body), request in zip(received, requests, strict=True):
        assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
        assert body["messages"][-1] == {"role": "assistant", "content": request.messages[-1].content}


def test_continue_final_message_alone_is_enough(templated) -> None:
    direct, url, _ = templated
    messages = [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "Answer:"}]
    body = httpx.post(
        f"{url}/chat/completions", json={"messages": messages, "max_tokens": 6, "continue_final_message": True}
    ).json()
    request = GenerationRequest(
        messages=(Message("user", "What is 2 + 2?"), Message("assistant", "Answer:")), max_tokens=6
    )
    assert body["choices"][0]["message"]["content"] == direct.generate([request])[0].text


def test_prefill_plain_against_serve_is_refused_with_the_fix(served) -> None:
    client = OpenAIBackend(served, prefill="plain", max_retries="0")
    request = GenerationRequest(messages=(Message("user", "x"), Message("assistant", "A:")), max_tokens=3)
    with pytest.raises(ModelServerError, match="HTTP 400: the conversation ends with an assistant message: send "):
        client.generate([request])
    client.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _lemur() -> str:
    return str(Path(sys.executable).parent / "lemur")


@pytest.mark.slow
def test_lemur_serve_command_serves_a_checkpoint(tiny_model, hf_backend) -> None:
    process = subprocess.Popen(
        [_lemur(), "serve", "--model", f"hf:{tiny_model},device=cpu,dtype=float32", "--port", "0", "--name", "ckpt"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            assert line or process.poll() is None, f"lemur serve exited with {process.returncode}"
            found = re.search(r"serving 'ckpt' at (http://127\.0\.0\.1:\d+/v1)", line)
            url = found.group(1) if found else None
        assert url, "lemur serve did not report its address within 60 s"
        backend = OpenAIBackend(url, max_retries="8", backoff="0.25", max_backoff="1")
        assert backend.model == "ckpt"
        assert backend.generate(GENERATIONS[:2]) == hf_backend.generate(GENERATIONS[:2])
        backend.close()
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_lemur_serve_missing_checkpoint_is_one_line_and_status_2(run_lemur, tmp_path) -> None:
    result = run_lemur("serve", "--model", f"hf:{tmp_path / 'missing'}", "--port", str(_free_port()))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: hf backend: model path {tmp_path / 'missing'} does not exist"
    ]


def test_lemur_serve_over_an_unreachable_server_is_one_line_and_status_2(run_lemur) -> None:
    port = _free_port()
    result = run_lemur("serve", "--model", f"openai:http://127.0.0.1:{port}/v1,max_retries=0")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: openai backend: GET http://127.0.0.1:{port}/v1/models failed after 1 attempt: ")
    assert "cannot connect" in line


def test_lemur_serve_unknown_template_is_one_line_and_status_2(run_lemur, tiny_model) -> None:
    result = run_lemur("serve", "--model", f"hf:{tiny_model},template=alpaca")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: unknown chat template 'alpaca': available: chatml, model"]


def test_lemur_serve_on_a_taken_port_is_one_line_and_status_2(run_lemur, tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # The port is checked before the model is loaded, so even a missing checkpoint reports the port.
        result = run_lemur("serve", "--model", f"hf:{tmp_path / 'missing'}", "--port", str(port))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: lemur serve: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
