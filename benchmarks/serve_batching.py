"""Measure `lemur serve` throughput with request batching against the hf backend called directly.

Usage: .venv/bin/python benchmarks/serve_batching.py [--requests N] [--tokens N] [--hidden N] [--layers N]

A random Llama (built here, offline) is served on 127.0.0.1 twice: with ``max_batch=1``
(every request its own backend call) and ``max_batch=32`` (concurrent requests merged). The
``openai`` backend sends N greedy completion requests with concurrency 32 to each. The
baseline is the same ``hf`` backend, in the same process, given all N requests in one
``generate`` call (batch size 32). Printed: requests/s of each and the ratios.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load_builder():
    path = REPO / "packages/lemur-eval/tests/models/conftest.py"
    spec = importlib.util.spec_from_file_location("lemur_eval_models_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_tiny_model


def timed(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def serve_and_measure(backend, requests, max_batch: int):
    from lemur.eval.models.openai import OpenAIBackend
    from lemur.eval.serve import bind_socket, build_server

    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = build_server(backend, "bench", "127.0.0.1", port, max_batch=max_batch)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    client = OpenAIBackend(f"http://127.0.0.1:{port}/v1", concurrency=32, max_retries=0)
    client.generate(requests[:2])  # warm-up
    batcher = server.config.app.state.batcher
    before = batcher.calls_made
    seconds, outputs = timed(lambda: client.generate(requests))
    calls = batcher.calls_made - before
    client.close()
    server.should_exit = True
    thread.join(timeout=10)
    return seconds, outputs, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=128)
    parser.add_argument("--tokens", type=int, default=16, help="max_tokens per request")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    args = parser.parse_args()

    import torch

    from lemur.eval.models.base import GenerationRequest
    from lemur.eval.models.hf import HFBackend

    # One intra-op thread everywhere: the server calls the model from its own worker thread, and
    # OpenMP teams spinning in two threads on a busy 2-core machine would distort the comparison.
    torch.set_num_threads(1)
    directory = load_builder()(Path(tempfile.mkdtemp()), hidden_size=args.hidden, layers=args.layers)
    backend = HFBackend(str(directory), batch_size=32, device="cpu", dtype="float32")
    words = "The quick brown fox jumps over the lazy dog while Lemur writes code".split()
    requests = [
        GenerationRequest(prompt=" ".join(words[: 3 + i % 10]) + f" {i}", max_tokens=args.tokens)
        for i in range(args.requests)
    ]
    backend.generate(requests[:2])  # warm-up
    direct_s, direct = timed(lambda: backend.generate(requests))
    single_s, single, single_calls = serve_and_measure(backend, requests, max_batch=1)
    batched_s, batched, batched_calls = serve_and_measure(backend, requests, max_batch=32)
    n = len(requests)
    print(f"model: random Llama hidden={args.hidden} layers={args.layers}, {n} requests x {args.tokens} tokens, CPU")
    print(f"hf direct, one generate call (baseline): {n / direct_s:7.1f} req/s")
    print(f"lemur serve max_batch=1  ({single_calls:3d} backend calls): {n / single_s:7.1f} req/s")
    print(f"lemur serve max_batch=32 ({batched_calls:3d} backend calls): {n / batched_s:7.1f} req/s")
    print(f"batched / unbatched serve: {single_s / batched_s:5.2f}x")
    print(f"batched serve / hf direct: {direct_s / batched_s:5.2f}x")
    print(f"same generations as hf direct: unbatched {single == direct}, batched {batched == direct}")


if __name__ == "__main__":
    main()
