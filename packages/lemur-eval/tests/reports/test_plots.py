"""lemur.eval.reports.plots: the PNGs decode, have the promised pixel size and show the data."""

from __future__ import annotations

import io

import pytest

from lemur.eval.reports.plots import RADAR_SIZE, SUCCESS_BY_TURN_SIZE, radar_png, success_by_turn_png

Image = pytest.importorskip("PIL.Image", reason="plots need matplotlib (pip install 'lemur-eval[report]')")
pytest.importorskip("matplotlib", reason="plots need matplotlib (pip install 'lemur-eval[report]')")


def _decode(png: bytes):
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_success_by_turn_png_size_and_content() -> None:
    empty = _decode(success_by_turn_png("IC-SQL", [("a", [0.0] * 5)]))
    drawn = _decode(success_by_turn_png("IC-SQL", [("a", [0.1, 0.25, 0.3, 0.35, 0.45]), ("b", [0.05, 0.2])]))
    assert drawn.size == SUCCESS_BY_TURN_SIZE == empty.size
    # Different data give different pixels (the lines are really drawn).
    assert drawn.convert("RGB").tobytes() != empty.convert("RGB").tobytes()


def test_radar_png_size_and_missing_values() -> None:
    image = _decode(
        radar_png(
            ["Text", "Code", "Tools", "Exploration"], [("a", [54.1, 46.2, 35.9, 17.0]), ("b", [45.9, None, None, None])]
        )
    )
    assert image.size == RADAR_SIZE


def test_radar_needs_three_axes() -> None:
    with pytest.raises(ValueError, match="at least 3 axes, got 2"):
        radar_png(["Text", "Code"], [("a", [1.0, 2.0])])
