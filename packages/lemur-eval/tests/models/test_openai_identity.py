"""The openai backend's cache identity (the fingerprint ``lemur serve`` publishes) and its fail-fast start-up."""

from __future__ import annotations

import json
import socket
import threading
import time
import warnings
from pathlib import Path

import pytest

pytest.importorskip("httpx", reason="the openai backend tests need httpx: pip install 'lemur-eval[openai]'")
pytest.importorskip("fastapi", reason="lemur serve needs fastapi: pip install 'lemur-eval[serve]'")

from lemur.eval.config import RunConfig
from lemur.eval.models.errors import ModelServerError
from lemur.eval.models.openai import OpenAIBackend, WeakIdentityWarning
from lemur.eval.runner import run

from .conftest import build_tiny_model


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def other_tiny_model(tmp_path_factory) -> Path:
    """A second tiny model, different weights, in a directory also called ``tiny``."""
    return build_tiny_model(tmp_path_factory.mktemp("other") / "tiny", hidden_size=32)


def _hf(path: Path):
    from lemur.eval.models.hf import HFBackend

    return HFBackend(str(path), device="cpu", dtype="float32")


def _results(run_dir: Path) -> list[dict]:
    lines = (run_dir / "toy-choice" / "generations.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_another_model_served_under_the_same_name_and_port_is_not_answered_from_the_cache(
    eval_test_plugin, tiny_model, other_tiny_model, tmp_path, lemur_serve
) -> None:
    # The review's repro: serve one checkpoint as "tiny", run; serve another as "tiny" on the
    # same port, run again with the same cache.
    port = _free_port()
    cache = tmp_path / "calls.sqlite"
    fields = {"benchmarks": ["toy-choice"], "progress": False, "cache": cache}
    first_hf, second_hf = _hf(tiny_model), _hf(other_tiny_model)
    try:
        with lemur_serve(first_hf, "tiny", port) as (_server, url):
            first = run(RunConfig(model=f"openai:{url},model=tiny", out=tmp_path / "first", **fields))
        with lemur_serve(second_hf, "tiny", port) as (_server, url):
            second = run(RunConfig(model=f"openai:{url},model=tiny", out=tmp_path / "second", **fields))
            run(RunConfig(model=f"openai:{url},model=tiny", out=tmp_path / "fresh", **fields, use_cache=False))
            again = run(RunConfig(model=f"openai:{url},model=tiny", out=tmp_path / "again", **fields))
        direct = run(RunConfig(model=f"hf:{other_tiny_model},device=cpu,dtype=float32", out=tmp_path / "hf", **fields))
    finally:
        first_hf.close()
        second_hf.close()
    assert first["model"]["identity"]["fingerprint"] != second["model"]["identity"]["fingerprint"]
    second_records = _results(tmp_path / "second")
    assert not any(record["cached"] for record in second_records)
    # (the server batches concurrent requests, so values may differ in the last float32 bits)
    for record, fresh_record in zip(second_records, _results(tmp_path / "fresh"), strict=True):
        assert record["logprobs"] == pytest.approx(fresh_record["logprobs"], abs=1e-4)
    for record, first_record in zip(second_records, _results(tmp_path / "first"), strict=True):
        assert record["logprobs"] != pytest.approx(first_record["logprobs"], abs=1e-2)
    # the second model's answers equal hf's over that checkpoint, and a rerun of it is cached
    for served_record, direct_record in zip(second_records, _results(tmp_path / "hf"), strict=True):
        assert served_record["logprobs"] == pytest.approx(direct_record["logprobs"], abs=1e-4)
    assert all(record["cached"] for record in _results(tmp_path / "again"))
    assert again["benchmarks"] == second["benchmarks"]
    assert second["benchmarks"]["toy-choice"]["scores"] == direct["benchmarks"]["toy-choice"]["scores"]


def test_the_fingerprint_follows_the_checkpoint_not_the_name(
    tiny_model, other_tiny_model, hf_backend, lemur_serve
) -> None:
    port = _free_port()
    other = _hf(other_tiny_model)
    try:
        with lemur_serve(hf_backend, "tiny", port) as (_server, url):
            first = OpenAIBackend(url, max_retries="0")
            models = first._client.get(url + "/models").json()
        with lemur_serve(other, "tiny", port) as (_server, url):
            second = OpenAIBackend(url, max_retries="0")
    finally:
        other.close()
    from lemur.eval.cache import sha256_json

    (entry,) = models["data"]
    assert {entry["id"], entry["object"], entry["owned_by"]} == {"tiny", "model", "lemur"}
    assert entry["fingerprint"] == sha256_json(hf_backend.identity) == first.identity["fingerprint"]
    assert second.identity["fingerprint"] == sha256_json(other.identity)
    assert {**first.identity, "fingerprint": None} == {**second.identity, "fingerprint": None}
    first.close()
    second.close()


class _ModelsWithoutFingerprint:
    """A server listing one model the way vLLM and OpenAI do (no fingerprint field)."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = json.dumps({"object": "list", "data": [{"id": "tiny", "object": "model"}]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_server_without_fingerprint_is_keyed_by_name_and_warned_about_once() -> None:
    server = _ModelsWithoutFingerprint()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            backends = [OpenAIBackend(server.url, max_retries="0") for _ in range(3)]
    finally:
        server.close()
    weak = [w for w in caught if issubclass(w.category, WeakIdentityWarning)]
    assert len(weak) == 1
    assert f"the server at {server.url} gives no fingerprint for model 'tiny'" in str(weak[0].message)
    assert "--no-cache" in str(weak[0].message)
    assert backends[0].identity == {
        "backend": "openai",
        "base_url": server.url,
        "model": "tiny",
        "mode": "auto",
        "prefill": "continue",
    }
    for backend in backends:
        backend.close()


@pytest.mark.parametrize(
    "url",
    [f"http://127.0.0.1:{_free_port()}/v1", "http://lemur-no-such-host.invalid:8000/v1"],
    ids=["connection-refused", "unknown-host"],
)
def test_an_unreachable_server_fails_fast_with_the_default_retries(url) -> None:
    started = time.monotonic()
    with pytest.raises(ModelServerError) as caught:
        OpenAIBackend(url)  # max_retries=5, backoff=1: the backoff alone would take 15-30 s
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"took {elapsed:.1f} s"
    message = str(caught.value)
    assert message.startswith(f"openai backend: GET {url}/models failed after 2 attempts: cannot connect (")
    assert message.endswith("is the server running?") and "\n" not in message


def test_a_server_that_answered_once_gets_the_backoff_when_it_goes_away(hf_backend, lemur_serve) -> None:
    port = _free_port()
    with lemur_serve(hf_backend, "tiny", port) as (_server, url):
        backend = OpenAIBackend(url, max_retries="3", backoff="0.05", max_backoff="0.1")
    from lemur.eval.models.base import GenerationRequest

    with pytest.raises(ModelServerError, match="failed after 4 attempts: cannot connect"):
        backend.generate([GenerationRequest(prompt="hi", max_tokens=2)])
    backend.close()
