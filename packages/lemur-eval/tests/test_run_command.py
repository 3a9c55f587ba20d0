"""``lemur eval run`` end to end in subprocesses: bad inputs, and a run killed with SIGKILL then resumed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SIZE = 240


def cli_command(*args: str) -> list[str]:
    return [str(TESTS / "_lemur_eval_cli.py"), *args]


def cli_options(cwd: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    env["LEMUR_CACHE_DIR"] = str(cwd / "lemur-cache")
    env.pop("LEMUR_CONFIG", None)
    return {"env": env, "cwd": cwd, "capture_output": True, "text": True, "check": False}


def write_replay(path: Path, plugin, size: int = SIZE) -> None:
    benchmark = plugin.ToySum(size=size)
    with path.open("w") as file:
        for index, sample in enumerate(benchmark.samples()):
            answer = sample.target if index % 5 else -1
            file.write(json.dumps({"request": benchmark.request(sample).to_dict(), "output": f" {answer}"}) + "\n")


def assert_one_error_line(result: subprocess.CompletedProcess, *fragments: str) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.fixture
def replay(tmp_path, eval_test_plugin) -> Path:
    path = tmp_path / "replay.jsonl"
    write_replay(path, eval_test_plugin)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unknown_benchmark(eval_cli, replay, tmp_path):
    result = eval_cli("eval", "run", "--model", f"replay:{replay}", "--benchmarks", "toy-sum,gsm9k", "--out", "out")
    assert_one_error_line(result, "unknown benchmark 'gsm9k'")
    assert not (tmp_path / "out").exists()


def test_malformed_replay_file(eval_cli, tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"request": {"prompt": "1 + 1 ="}, "output": " 2"}\n{"request": 3\n')
    result = eval_cli("eval", "run", "--model", "replay:bad.jsonl", "--benchmarks", "toy-sum", "--out", "out")
    assert_one_error_line(result, "replay file bad.jsonl, line 2: not valid JSON")
    assert not (tmp_path / "out").exists()


def test_unreachable_server(eval_cli, tmp_path):
    from lemur.core.components import Kind
    from lemur.core.plugins import build_plugin_manager

    if "openai" not in build_plugin_manager().components(Kind.MODEL_BACKEND):
        pytest.skip("the openai model backend is not installed")
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = eval_cli(
        "eval",
        "run",
        "--model",
        f"openai:{url},model=tiny,max_retries=1,backoff=0.05",
        "--benchmarks",
        "toy-sum",
        "--out",
        "out",
    )
    assert_one_error_line(result, f"127.0.0.1:{url.split(':')[2].split('/')[0]}")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("yaml_text", "fragment"),
    [
        ("model: [unclosed\n", "not valid YAML at line"),
        ("model: replay:replay.jsonl\nbenchmarks: [toy-sum]\nout: out\nworkers: many\n", "field 'workers'"),
        ("model: replay:replay.jsonl\nbenchmarks: [toy-sum]\nout: out\nlimt: 3\n", "unknown key 'limt'"),
        ("model: replay:replay.jsonl\nout: out\n", "field 'benchmarks' is required"),
        ("model: replay:replay.jsonl\nbenchmarks: toy-sum\nout: out\nexecutor: slurm\n", "field 'executor' is 'slurm'"),
    ],
)
def test_bad_yaml(eval_cli, replay, tmp_path, yaml_text, fragment):
    (tmp_path / "run.yaml").write_text(yaml_text)
    assert_one_error_line(eval_cli("eval", "run", "run.yaml"), "run.yaml", fragment)
    assert not (tmp_path / "out").exists()


def test_yaml_and_flags_must_agree_and_combine(eval_cli, replay, tmp_path):
    (tmp_path / "run.yaml").write_text("model: replay:replay.jsonl\nbenchmarks: [toy-sum]\nlimit: 10\n")
    assert_one_error_line(eval_cli("eval", "run", "run.yaml", "--limit", "5", "--out", "out"), "field 'limit'")
    assert not (tmp_path / "out").exists()
    result = eval_cli("eval", "run", "run.yaml", "--out", "out")
    assert result.returncode == 0, result.stderr
    assert "toy-sum generate" in result.stderr and "toy-sum score" in result.stderr and "10/10" in result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["benchmarks"]["toy-sum"]["n"] == 10
    assert summary["benchmarks"]["toy-sum"]["scores"]["accuracy"] == pytest.approx(0.8)
    assert "toy-sum" in result.stdout and "0.8000" in result.stdout
    assert_one_error_line(eval_cli("eval", "run", "run.yaml", "--out", "out"), "is not empty; pass --resume")
    assert_one_error_line(eval_cli("eval", "run", "--benchmarks", "toy-sum"), "missing --model, --out")


def line_count(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def start(tmp_path: Path, *args: str) -> subprocess.Popen:
    options = cli_options(tmp_path)
    del options["check"], options["capture_output"]
    return subprocess.Popen(
        [sys.executable, *cli_command("eval", "run", *args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **options,
    )


def kill_when(process: subprocess.Popen, path: Path, lines: int, timeout: float = 60) -> int:
    """SIGKILL ``process`` once ``path`` has ``lines`` lines; return how many it had then."""
    deadline = time.monotonic() + timeout
    while line_count(path) < lines:
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, f"{path} never reached {lines} lines"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    return line_count(path)


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_gives_the_same_results(replay, tmp_path):
    settings = (
        "model: slow-replay:replay.jsonl,delay=0.03\n"
        "benchmarks: [toy-sum]\n"
        f"benchmark_options: {{toy-sum: {{size: {SIZE}, score_delay: 0.01}}}}\n"
        "chunk_size: 4\nworkers: 2\n"
    )
    (tmp_path / "run.yaml").write_text(settings)
    reference = subprocess.run(
        [sys.executable, *cli_command("eval", "run", "run.yaml", "--out", "reference", "--no-cache")],
        **cli_options(tmp_path),
        timeout=120,
    )
    assert reference.returncode == 0, reference.stderr
    run_dir = tmp_path / "killed"
    generations, results = run_dir / "toy-sum" / "generations.jsonl", run_dir / "toy-sum" / "results.jsonl"

    # killed during generation
    first = kill_when(start(tmp_path, "run.yaml", "--out", "killed"), generations, SIZE // 3)
    assert first < SIZE and not results.exists()
    assert json.loads((run_dir / "summary.json").read_text())["finished"] is False
    # resumed, then killed during scoring
    second = kill_when(start(tmp_path, "run.yaml", "--out", "killed", "--resume"), results, SIZE // 4)
    assert line_count(generations) == SIZE and second < SIZE
    # resumed to the end
    final = subprocess.run(
        [sys.executable, *cli_command("eval", "run", "run.yaml", "--out", "killed", "--resume")],
        **cli_options(tmp_path),
        timeout=120,
    )
    assert final.returncode == 0, final.stderr

    expected = tmp_path / "reference" / "toy-sum"
    assert results.read_text() == (expected / "results.jsonl").read_text()
    got = [json.loads(line) for line in generations.read_text().splitlines()]
    want = [json.loads(line) for line in (expected / "generations.jsonl").read_text().splitlines()]
    assert [g["id"] for g in got] == [w["id"] for w in want] and len({g["id"] for g in got}) == SIZE
    strip = ("cached",)
    assert [{k: v for k, v in g.items() if k not in strip} for g in got] == [
        {k: v for k, v in w.items() if k not in strip} for w in want
    ]
    summary = json.loads((run_dir / "summary.json").read_text())
    reference_summary = json.loads((tmp_path / "reference" / "summary.json").read_text())
    assert summary["finished"] is True
    assert summary["benchmarks"] == reference_summary["benchmarks"]
    assert summary["benchmarks"]["toy-sum"]["scores"]["accuracy"] == pytest.approx(0.8)
