"""The conformance suite (``lemur.envs.sandbox.conformance``) against every backend."""

from __future__ import annotations

import pytest

from lemur.envs.sandbox import SandboxBackend
from lemur.envs.sandbox.conformance import CHECKS, CheckFailed, run_checks, select_checks


@pytest.mark.parametrize("name", [item.name for item in CHECKS])
def test_conformance(backend: SandboxBackend, name: str) -> None:
    known = getattr(backend, "known_failures", {}) or {}
    (item,) = select_checks([name])
    if name in known:
        with pytest.raises(AssertionError):
            item.function(backend)
        pytest.xfail(f"known failure of {backend.name}: {known[name]}")
    item.function(backend)


class _BrokenBackend(SandboxBackend):
    """A backend whose sessions never open, with one declared known failure."""

    name = "broken"
    known_failures = {"exec_argv": "argv lists are not supported by this test double"}

    def check_available(self) -> None:
        return None

    def open(self, spec):  # type: ignore[no-untyped-def]
        raise CheckFailed("this backend cannot open sessions")


def test_run_checks_reports_failures_and_known_failures() -> None:
    seen = []
    results = run_checks(_BrokenBackend(), ["exec_streams", "exec_argv"], on_result=seen.append)
    assert [(r.name, r.status) for r in results] == [("exec_streams", "failed"), ("exec_argv", "known-failure")]
    assert results[0].detail == "this backend cannot open sessions"
    assert results[1].detail == "argv lists are not supported by this test double"
    assert seen == results


def test_select_checks_rejects_unknown_names() -> None:
    with pytest.raises(KeyError, match="unknown conformance check.*'nope'.*available: exec_streams"):
        select_checks(["nope"])
