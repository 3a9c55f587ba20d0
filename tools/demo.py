"""`make demo`: run Lemur's main end-to-end path on this machine and say what each step did."""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LEMUR = str(Path(sys.executable).parent / "lemur")


def step(title: str, *args: str) -> None:
    print(f"\n== {title}\n$ lemur {shlex.join(args)}", flush=True)
    subprocess.run([LEMUR, *args], check=True)


def main() -> None:
    step("installed Lemur packages", "--version")
    step("every plugin and the components it provides", "plugins")
    sample = REPO.parent / "shared" / "data" / "gsm8k" / "test.jsonl"
    if sample.is_file():
        step(
            "read real data through a data-source plugin",
            "data",
            "head",
            "jsonl",
            "-o",
            f"paths={sample}",
            "-o",
            "text_field=question",
            "-n",
            "2",
        )
    else:
        print(f"\n(skipped reading benchmark data: {sample} is not on this machine)")
    with tempfile.TemporaryDirectory(prefix="lemur-demo-data-") as out:
        build = ["data", "build", "--recipe", str(REPO / "recipes" / "mini-lemur.yaml"), "--out", out]
        step("build the mini-lemur mixture: stdlib code + info manuals", *build)
        step("the realised mixture against the recipe", "data", "stats", out)
    evaluate()
    print(
        "\ndemo finished: listed the plugins, read real data, built and measured the mini-lemur mixture, "
        "and evaluated an oracle model (sandboxed code execution included) with a report"
    )


def oracle_replay(path: Path, data_dir: Path | None, names: list[str], limit: int) -> None:
    """Write a replay file whose answers are each benchmark's gold answers (an oracle model)."""
    import json

    from lemur.core.components import Kind
    from lemur.core.plugins import components

    with open(path, "w", encoding="utf-8") as out:
        for name in names:
            benchmark = components(Kind.BENCHMARK).load(name)(data_dir=data_dir)
            for sample in list(benchmark.samples())[:limit]:
                gold = f" So the answer is {sample.target}." if name == "gsm8k" else sample.target
                out.write(json.dumps({"request": benchmark.request(sample).to_dict(), "output": gold}) + "\n")


def evaluate() -> None:
    """Evaluate an oracle model on three benchmarks through the runner, then report."""
    data = REPO.parent / "shared" / "data"
    data_dir = data if data.is_dir() else None
    names, limit = ["gsm8k", "humaneval", "spider"], 10
    with tempfile.TemporaryDirectory(prefix="lemur-demo-eval-") as scratch:
        replay = Path(scratch) / "oracle.jsonl"
        oracle_replay(replay, data_dir, names, limit)
        run_dir, report_dir = Path(scratch) / "run", Path(scratch) / "report"
        args = ["eval", "run", "--model", f"replay:{replay}", "--benchmarks", ",".join(names)]
        args += ["--limit", str(limit), "--out", str(run_dir), "--no-cache", "--no-progress"]
        if data_dir is not None:
            args += ["--data-dir", str(data_dir)]
        step("evaluate an oracle model (gold answers replayed); HumanEval runs in the sandbox", *args)
        print((run_dir / "summary.json").read_text()[:1500])
        step("report the run (Markdown, HTML, PNG)", "eval", "report", str(run_dir), "--out", str(report_dir))
        print((report_dir / "report.md").read_text()[:1500] if (report_dir / "report.md").exists() else "")


if __name__ == "__main__":
    main()
