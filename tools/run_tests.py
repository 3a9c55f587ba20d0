"""Run the test suite one pytest process per package and print one combined closing line.

Separate processes keep heavy frameworks (JAX, torch, Ray) out of each other's process: JAX's
threads and Ray's fork do not mix. Extra arguments go to every pytest run.

Usage: python tools/run_tests.py [PYTEST_ARGS...]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEST_DIRS = [
    "packages/lemur-core/tests",
    "packages/lemur-data/tests",
    "packages/lemur-envs/tests",
    "packages/lemur-eval/tests",
    "packages/lemur-train/tests",
    "tests",
]


def main() -> int:
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    failed_dirs = []
    with tempfile.TemporaryDirectory(prefix="lemur-tests-") as scratch:
        for index, test_dir in enumerate(TEST_DIRS):
            report = Path(scratch) / f"{index}.xml"
            print(f"== pytest {test_dir}", flush=True)
            command = [sys.executable, "-m", "pytest", f"--junitxml={report}", "--durations=5", test_dir, *sys.argv[1:]]
            code = subprocess.run(command, cwd=REPO, check=False).returncode
            if code not in (0, 5):  # 5: nothing selected in this directory (e.g. with -k)
                failed_dirs.append(test_dir)
            if not report.exists():
                continue
            suite = ElementTree.parse(report).getroot()
            suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
            tests, failures, errors, skipped = (
                int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")
            )
            totals["failed"] += failures + errors
            totals["skipped"] += skipped
            totals["passed"] += tests - failures - errors - skipped
    if failed_dirs:
        print(f"failing test directories: {', '.join(failed_dirs)}")
    print(f"lemur: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    return 1 if failed_dirs or totals["passed"] == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
