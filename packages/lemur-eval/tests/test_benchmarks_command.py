"""``lemur eval benchmarks``: one line per benchmark, columns aligned whatever the names' lengths."""

from __future__ import annotations


def test_columns_line_up_with_long_metric_names(eval_cli):
    result = eval_cli("eval", "benchmarks")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    by_name = {line.split()[0]: line for line in lines}
    assert "spider" in by_name and "toy-sum" in by_name  # a built-in and the test plugin's
    assert "execution_accuracy" in by_name["spider"]  # 18 characters, longer than the old fixed width
    # Each line's name, category, metric and version start at the same columns on every line.
    starts = set()
    for line in lines:
        fields = line.split()
        positions, offset = [], 0
        for field in fields[:4]:
            offset = line.index(field, offset)
            positions.append(offset)
            offset += len(field)
        starts.add(tuple(positions))
    assert len(starts) == 1, starts
