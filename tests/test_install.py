"""Each distribution installs alone into a fresh virtual environment, pulling in only what it declares."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_lemur_eval_alone_pulls_only_core_and_envs(tmp_path):
    wheels = tmp_path / "wheels"
    for package in ["lemur-core", "lemur-envs", "lemur-eval", "lemur-data", "lemur-train"]:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "-w",
                wheels,
                REPO / "packages" / package,
            ],
            check=True,
        )
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--find-links", wheels, "lemur-eval==0.1.0"], check=True)
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True
    )
    lemur_dists = sorted(line.split("==")[0] for line in listed.stdout.splitlines() if line.startswith("lemur"))
    assert lemur_dists == ["lemur-core", "lemur-envs", "lemur-eval"]
    subprocess.run([python, "-c", "import lemur.core, lemur.envs, lemur.eval"], check=True)
    help_text = subprocess.run([env_dir / "bin" / "lemur", "--help"], capture_output=True, text=True, check=True).stdout
    assert "  eval " in help_text and "  data " not in help_text
    # the namespace is shared: a second distribution adds its subpackage next to the others
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--find-links", wheels, "lemur-data==0.1.0"], check=True)
    subprocess.run([python, "-c", "import lemur.core, lemur.data, lemur.envs, lemur.eval"], check=True)
