"""``lemur eval report``: files written, HTML self-contained, bad input -> status 2, nothing half-written."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest

from lemur.core.cli import main
from lemur.eval.reports.plots import RADAR_SIZE, SUCCESS_BY_TURN_SIZE

pytest.importorskip("matplotlib", reason="the report's plots need matplotlib (pip install 'lemur-eval[report]')")
Image = pytest.importorskip("PIL.Image", reason="pillow comes with matplotlib")

CITATION = "https://arxiv.org/abs/2310.06830"


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.size


def test_end_to_end_in_a_subprocess(run_lemur, two_runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = run_lemur("eval", "report", *map(str, two_runs), "--out", str(out))
    assert result.returncode == 0, result.stderr
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == [
        "plots/capabilities_radar.png",
        "plots/success_by_turn_intercode-ctf.png",
        "plots/success_by_turn_intercode-sql.png",
        "report.html",
        "report.md",
    ]
    assert result.stdout.count("wrote ") == 5

    sizes = {name: _png_size((out / name).read_bytes()) for name in written if name.endswith(".png")}
    assert sizes["plots/capabilities_radar.png"] == RADAR_SIZE
    assert sizes["plots/success_by_turn_intercode-sql.png"] == SUCCESS_BY_TURN_SIZE

    markdown = (out / "report.md").read_text(encoding="utf-8")
    # Run A's Table 3 row (see test_tables for the arithmetic); bold where it beats run B, which has text only.
    assert (
        "| replay:lemur-70b-chat.jsonl | **66.0** | **45.0** | **51.2** | **54.1** | 48.8 | 60.0 | 62.0 | 30.0 | 30.0"
        " | 46.2 | 49.1 |" in markdown
    )
    assert "![Capability groups](plots/capabilities_radar.png)" in markdown
    # Table 7's published row (paper: 22.00, 5.30, 59.70), with this report's unweighted Avg.
    assert "| *Lemur-70B-Chat (paper)* | *22.00* | *5.30* | *59.70* | *29.00* |" in markdown


def test_html_is_self_contained(two_runs: list[Path], tmp_path: Path, capsys) -> None:
    assert main(["eval", "report", *map(str, two_runs), "--out", str(tmp_path / "o"), "--format", "html"]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["report.html"]
    html = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html and "<link" not in html and "@import" not in html and "url(" not in html
    sources = re.findall(r'\bsrc="([^"]*)"', html)
    links = re.findall(r'\bhref="([^"]*)"', html)
    assert links == [CITATION]
    assert len(sources) == 3 and all(s.startswith("data:image/png;base64,") for s in sources)
    sizes = sorted(_png_size(base64.b64decode(s.split(",", 1)[1])) for s in sources)
    assert sizes == sorted([RADAR_SIZE, SUCCESS_BY_TURN_SIZE, SUCCESS_BY_TURN_SIZE])
    assert "<td>Lemur-70B-Chat (paper)</td>" in html and 'class="reference"' in html


def test_no_paper_and_markdown_only(two_runs: list[Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "o"
    assert main(["eval", "report", *map(str, two_runs), "--out", str(out), "--no-paper", "--format", "md"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["report.md"]
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "(paper)" not in markdown and "Published reference rows are off (--no-paper)." in markdown
    assert "## Plots" not in markdown  # Markdown alone draws no plots


def _broken_summary(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["benchmarks"]["gsm8k"]["scores"] = {"accuracy": 1.7}
    (run_dir / "summary.json").write_text(json.dumps(summary))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing-summary", "summary.json: missing; is"),
        ("malformed", "benchmarks.gsm8k': scores.accuracy is 1.7, but the headline score must be in [0, 1]"),
        ("not-json", "not valid JSON at line 1"),
        ("bad-format", "--format: unknown format 'pdf'; allowed: md, html, png"),
        ("out-is-file", "exists and is not a directory"),
    ],
)
def test_bad_input_is_status_2_one_line_and_nothing_written(
    two_runs: list[Path], tmp_path: Path, capsys, case: str, expected: str
) -> None:
    good, other = two_runs
    out = tmp_path / "o"
    args = ["eval", "report", str(good), str(other), "--out", str(out)]
    if case == "missing-summary":
        (other / "summary.json").unlink()
    elif case == "malformed":
        _broken_summary(good)
    elif case == "not-json":
        (other / "summary.json").write_text("{oops")
    elif case == "bad-format":
        args += ["--format", "md,pdf"]
    elif case == "out-is-file":
        out.write_text("not a directory")
    capsys.readouterr()
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert expected in lines[0]
    if case == "out-is-file":
        assert out.read_text() == "not a directory"
    else:
        assert not out.exists()


def test_rewriting_replaces_files_and_leaves_no_temporaries(two_runs: list[Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "o"
    for _ in range(2):
        assert main(["eval", "report", str(two_runs[0]), "--out", str(out)]) == 0
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert not [n for n in names if n.split("/")[-1].startswith(".")]
    assert "report.md" in names and "report.html" in names


def _without_matplotlib(monkeypatch) -> None:
    from lemur.core.errors import MissingDependencyError
    from lemur.eval.reports import plots

    def missing():
        raise MissingDependencyError("PNG plots", "matplotlib", "lemur-eval[report]")

    monkeypatch.setattr(plots, "_pyplot", missing)


def test_without_matplotlib_the_report_says_plots_were_skipped(
    two_runs: list[Path], tmp_path: Path, capsys, monkeypatch
) -> None:
    _without_matplotlib(monkeypatch)
    out = tmp_path / "o"
    assert main(["eval", "report", *map(str, two_runs), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.md"]
    stdout = capsys.readouterr().out
    assert "note: Plots skipped: PNG plots needs the package 'matplotlib'" in stdout
    assert "pip install 'lemur-eval[report]'" in (out / "report.md").read_text(encoding="utf-8")
    assert "Plots skipped" in (out / "report.html").read_text(encoding="utf-8")


def test_png_only_without_matplotlib_is_an_error(two_runs: list[Path], tmp_path: Path, capsys, monkeypatch) -> None:
    _without_matplotlib(monkeypatch)
    assert main(["eval", "report", str(two_runs[0]), "--out", str(tmp_path / "o"), "--format", "png"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "error: PNG plots needs the package 'matplotlib', which is not installed: pip install 'lemur-eval[report]'"
    ]
    assert not (tmp_path / "o").exists()


def test_a_run_without_results_and_markup_in_names(make_run, tmp_path: Path) -> None:
    from lemur.eval.reports.report import build_report, render

    run = make_run(tmp_path, "r", "openai:<b>x|y</b>", {}, finished=False)
    report = build_report([run])
    assert report.tables == () and report.plots == ()
    assert "No benchmark has results yet in these runs." in report.notes
    files = render(report, ["md", "html"])
    markdown, html = files["report.md"].decode(), files["report.html"].decode()
    assert "| openai:&lt;b&gt;x\\|y&lt;/b&gt; (unfinished) | r |" in markdown
    assert "<b>x" not in html and "openai:&lt;b&gt;x|y&lt;/b&gt; (unfinished)" in html
