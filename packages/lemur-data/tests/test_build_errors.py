"""User errors of `lemur data build` are one line with exit status 2, and nothing is half-written.

A bad recipe, tokenizer or ``--workers`` is found before ``--out`` is touched, so the corrected
recipe then builds into the same ``--out``. Input: real stdlib modules as JSON Lines.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lemur.core.errors import LemurError


def _tree(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` and its bytes (empty when ``path`` does not exist)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture
def good(tmp_path, stdlib_sources, llama_tokenizer_path) -> dict:
    code = tmp_path / "code.jsonl"
    code.write_text("".join(json.dumps({"text": p.read_text(encoding="utf-8")}) + "\n" for p in stdlib_sources[:6]))
    return {
        "name": "errors",
        "tokenizer": str(llama_tokenizer_path),
        "seq_len": 256,
        "tasks_per_source": 2,
        "steps": [{"step": "exact-dedup"}],
        "sources": [{"name": "code", "source": "jsonl", "options": {"paths": str(code)}}],
    }


def _with(recipe: dict, **changes) -> dict:
    source = {**recipe["sources"][0], **changes.pop("source", {})}
    return {**recipe, **changes, "sources": [source]}


BAD = {
    "unknown source": (lambda r: _with(r, source={"source": "jsonll"}), [], "jsonl"),
    "unknown step": (lambda r: _with(r, steps=[{"step": "exact-dedupe"}]), [], "exact-dedup"),
    "bad source option": (lambda r: _with(r, source={"options": {"pathz": "x"}}), [], "pathz"),
    "missing source file": (lambda r: _with(r, source={"options": {"paths": "/nonexistent/c.jsonl"}}), [], "exist"),
    "bad step option": (lambda r: _with(r, steps=[{"step": "minhash-dedup", "options": {"bands": 0}}]), [], "bands"),
    "missing tokenizer": (lambda r: _with(r, tokenizer="/nonexistent/tokenizer.json"), [], "tokenizer"),
    "zero workers": (lambda r: r, ["--workers", "0"], "--workers"),
    "unpinned hub source": (lambda r: _with(r, source={"source": "openorca", "options": {}}), [], "revision"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_and_leaves_out_untouched(tmp_path, good, run_lemur, case) -> None:
    change, extra, mention = BAD[case]
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(yaml.safe_dump(change(good)))
    out = tmp_path / "out"
    args = ["data", "build", "--recipe", str(recipe_file), "--out", str(out), "--no-progress"]
    result = run_lemur(*args, *extra)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and mention in lines[0], result.stderr
    assert not out.exists()


def test_the_fixed_recipe_builds_where_the_bad_one_failed_and_a_bad_rerun_changes_nothing(
    tmp_path, good, run_lemur
) -> None:
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(yaml.safe_dump(_with(good, source={"source": "text-filez"})))
    out = tmp_path / "out"
    args = ["data", "build", "--recipe", str(recipe_file), "--out", str(out), "--no-progress"]
    assert run_lemur(*args).returncode == 2
    recipe_file.write_text(yaml.safe_dump(good))
    fixed = run_lemur(*args)
    assert fixed.returncode == 0, fixed.stderr
    assert "built 2 shards" in fixed.stdout
    before = _tree(out)
    result = run_lemur(*args, "--workers", "0")
    assert result.returncode == 2 and "--workers" in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_with(good, tokenizer="/nonexistent/tokenizer.json")))
    result = run_lemur("data", "build", "--recipe", str(bad), "--out", str(out), "--format", "conversations")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert _tree(out) == before


def test_out_naming_an_existing_file_is_one_line(tmp_path, good, run_lemur) -> None:
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(yaml.safe_dump(good))
    taken = tmp_path / "taken"
    taken.write_text("not a directory")
    for extra in ([], ["--format", "conversations"]):
        result = run_lemur("data", "build", "--recipe", str(recipe_file), "--out", str(taken), *extra)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and "existing file" in lines[0], result.stderr
        assert taken.read_text() == "not a directory"


@pytest.mark.slow
def test_unreachable_hub_is_one_line_naming_the_dataset(monkeypatch) -> None:
    """No network: the hub dataset cannot be resolved, and the error says what to do instead."""
    pytest.importorskip("datasets", reason="needs 'datasets': pip install 'lemur-data[hf]'")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", "/nonexistent/lemur-test-hf-home")
    from lemur.data.sources.hf import HFSource

    source = HFSource("lemur-test/not-cached-anywhere", revision="0" * 40)
    with pytest.raises(LemurError) as caught:
        next(iter(source))
    message = str(caught.value)
    assert "\n" not in message and "lemur-test/not-cached-anywhere" in message
    assert "data_files" in message and "HF_ENDPOINT" in message


@pytest.mark.slow
def test_a_failed_ray_rank_is_its_own_one_line_error(tmp_path, good, run_lemur) -> None:
    """Both ranks hit the malformed line; the CLI prints the rank's error, not Ray's wrapper or other ranks'."""
    pytest.importorskip("ray", reason="needs 'ray': pip install 'lemur-data[ray]'")
    code = Path(good["sources"][0]["options"]["paths"])
    code.write_text(code.read_text() + "not json\n")
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(yaml.safe_dump(good))
    args = ["--out", str(tmp_path / "out"), "--executor", "ray", "--workers", "2", "--no-progress"]
    result = run_lemur("data", "build", "--recipe", str(recipe_file), *args, timeout=180)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert errors == [f"error: {code}:7: not a JSON object (Expecting value)"], result.stderr
    assert "Traceback" not in result.stderr and "ray::" not in result.stderr
