"""The run directory of ``lemur eval run``: the contract between the runner and the reports.

The runner writes it; ``lemur eval report`` (:mod:`lemur.eval.reports`) only reads it::

    RUN_DIR/
      config.yaml                     the resolved run config
      <benchmark>/generations.jsonl   stage 1: one JSON object per sample, appended and flushed
                                      item by item:
                                      {"id": str, "request": {...}, "output": str,
                                       "finish_reason": str, "cached": bool}
                                      agent benchmarks instead:
                                      {"id": str, "turns": [{"turn": 1, "action": str,
                                       "observation": str, "reward": float}, ...],
                                       "success": bool, "reward": float}
      <benchmark>/results.jsonl       stage 2: one line per sample:
                                      {"id": str, "score": float, "details": {...}}
                                      agent benchmarks also: "success": bool,
                                      "success_turn": int | null
      summary.json

``summary.json``::

    {
      "run_id": "...", "created": "ISO-8601 UTC", "finished": true,
      "lemur": {"lemur-core": "0.1.0", "lemur-eval": "0.1.0", ...},
      "git_revision": "40-hex or null",
      "model": {"spec": "replay:path/to/file.jsonl", "backend": "replay", "identity": {...}},
      "benchmarks": {
        "gsm8k": {
          "version": "1", "category": "text", "metric": "accuracy", "setting": {"shots": 8},
          "scores": {"accuracy": 0.553, "...other named metrics...": 0.5},
          "n": 1319, "data_sha256": "...", "prompt_hash": "...",
          "success_by_turn": [0.1, 0.22, 0.3]
        }
      }
    }

Field rules:

- ``category`` is ``text``, ``code`` or ``agent`` (the paper's groups).
- ``scores[metric]`` is the headline number, a fraction in [0, 1] (reports show it as a percentage).
- ``success_by_turn[k-1]`` is the fraction of samples solved within ``k`` turns; agent
  benchmarks only (absent otherwise), so it never decreases with ``k``.
- ``finished`` is false while a run is still going or was killed; it resumes from the
  ``*.jsonl`` files.
- Readers ignore keys they do not know, so the runner may add fields without breaking them.
"""

from __future__ import annotations

#: The resolved run config, YAML.
CONFIG_FILE = "config.yaml"
#: Stage 1 per benchmark: model outputs (or agent trajectories), one JSON object per line.
GENERATIONS_FILE = "generations.jsonl"
#: Stage 2 per benchmark: per-sample scores, one JSON object per line.
RESULTS_FILE = "results.jsonl"
#: Versions, hashes and aggregated scores of the whole run.
SUMMARY_FILE = "summary.json"
