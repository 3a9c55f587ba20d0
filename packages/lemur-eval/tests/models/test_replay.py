"""The replay backend (lemur.eval.models.replay)."""

from __future__ import annotations

import json
import pickle

import pytest

from lemur.eval.models.base import Generation, GenerationRequest, LoglikelihoodRequest, Message
from lemur.eval.models.replay import ReplayBackend, ReplayFileError, ReplayMissError


def write_lines(path, lines):
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def test_answers_recorded_generations_and_loglikelihoods(tmp_path):
    chat = GenerationRequest(messages=(Message("system", "s"), Message("user", "hi")), stop=("\n",))
    raw = GenerationRequest(prompt="2 + 2 =", max_tokens=4)
    path = write_lines(
        tmp_path / "rec.jsonl",
        [
            {"request": chat.to_dict(), "output": "hello", "finish_reason": "length"},
            {"request": raw.to_dict(), "output": " 4", "id": "x", "cached": False},
            {"request": {"context": "2 + 2 =", "continuation": " 4"}, "logprob": -0.25},
            {"id": "episode", "turns": [], "success": False, "reward": 0.0},
            "",
        ],
    )
    backend = ReplayBackend(path)
    assert backend.generate([raw, chat]) == [Generation(" 4"), Generation("hello", "length")]
    assert backend.loglikelihood([LoglikelihoodRequest("2 + 2 =", " 4")]) == [-0.25]
    assert backend.identity["sha256"] and backend.identity["backend"] == "replay"
    with pytest.raises(ReplayMissError, match="no recorded generation"):
        backend.generate([GenerationRequest(prompt="2 + 2 =", max_tokens=5)])
    with pytest.raises(ReplayMissError, match="no recorded log-likelihood"):
        backend.loglikelihood([LoglikelihoodRequest("2 + 2 =", " 5")])
    copy = pickle.loads(pickle.dumps(backend))
    assert copy.generate([raw]) == [Generation(" 4")]


def test_repeated_requests_are_served_in_file_order_then_the_last_repeats(tmp_path):
    request = GenerationRequest(prompt="flip", temperature=1.0)
    path = write_lines(tmp_path / "r.jsonl", [{"request": request.to_dict(), "output": o} for o in ("H", "T")])
    backend = ReplayBackend(path)
    assert [g.text for g in backend.generate([request] * 3)] == ["H", "T", "T"]


def test_a_run_directory_replays_every_benchmark(tmp_path):
    request = GenerationRequest(prompt="q")
    (tmp_path / "run" / "bench").mkdir(parents=True)
    write_lines(
        tmp_path / "run" / "bench" / "generations.jsonl", [{"id": "1", "request": request.to_dict(), "output": "a"}]
    )
    assert ReplayBackend(tmp_path / "run").generate([request]) == [Generation("a")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReplayFileError, match="no \\*/generations.jsonl"):
        ReplayBackend(tmp_path / "empty")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: not valid JSON"),
        ("[1, 2]", "line 2: expected a JSON object, got list"),
        ('{"output": "x"}', "line 2: needs a 'request' object"),
        ('{"request": {"prompt": "p"}}', "line 2: needs 'output'"),
        ('{"request": {"prompt": "p"}, "output": 3}', "line 2: 'output' and 'finish_reason' must be strings"),
        ('{"request": {"prompt": "p", "colour": 1}, "output": "x"}', "line 2: 'request' is not a generation request"),
        ('{"request": {"context": "c", "continuation": "d"}, "logprob": "high"}', "line 2: 'logprob' must be a number"),
    ],
)
def test_malformed_files_name_the_file_and_line(tmp_path, line, message):
    path = write_lines(tmp_path / "bad.jsonl", ['{"request": {"prompt": "ok"}, "output": "fine"}', line])
    with pytest.raises(ReplayFileError, match=message) as caught:
        ReplayBackend(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_an_empty_file_is_an_error(tmp_path):
    with pytest.raises(ReplayFileError, match="holds no recorded"):
        ReplayBackend(write_lines(tmp_path / "empty.jsonl", [""]))
