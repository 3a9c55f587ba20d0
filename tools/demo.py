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
    print("\ndemo finished: listed the plugins and read data through the plugin registry")


if __name__ == "__main__":
    main()
