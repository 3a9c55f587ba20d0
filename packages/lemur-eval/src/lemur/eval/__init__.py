"""Lemur evaluation: model backends, benchmarks, the agent loop, scorers, the runner and reports.

``pip install lemur-eval`` pulls in ``lemur-core`` and ``lemur-envs`` only; model backends that
need heavy packages (Transformers, an HTTP client) import them when they are first used.
"""
