"""``lemur serve`` over the tiny model, used through the openai backend: same answers as hf directly."""

from __future__ import annotations

import dataclasses
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="lemur serve tests need fastapi: pip install 'lemur-eval[serve]'")
pytest.importorskip("uvicorn", reason="lemur serve tests need uvicorn: pip install 'lemur-eval[serve]'")
httpx = pytest.importorskip("httpx", reason="lemur serve tests need httpx: pip install 'lemur-eval[openai]'")

from lemur.eval.models.base import GenerationRequest, LoglikelihoodRequest, Message  # noqa: E402
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
def server_and_url(hf_backend):
    """The tiny hf backend served on a free 127.0.0.1 port in a thread; yields the server and its ``/v1`` URL."""
    from lemur.eval.serve import bind_socket, build_server

    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = build_server(hf_backend, "tiny", "127.0.0.1", port, max_batch=8)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "lemur serve did not start within 20 s"
        time.sleep(0.05)
    yield server, f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(timeout=10)


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
