"""PNG plots for reports: success rate by interaction turn, and a radar of capability groups.

matplotlib is optional (``pip install 'lemur-eval[report]'``) and imported only here, with
the non-interactive Agg backend, when a plot is drawn. Every figure has a fixed size in
pixels so that reports are stable.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from typing import Any

from lemur.core.errors import MissingDependencyError

#: Pixel sizes (width, height) of the figures.
SUCCESS_BY_TURN_SIZE = (800, 500)
RADAR_SIZE = (760, 720)
_DPI = 100


def _pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend.

    Raises:
        MissingDependencyError: matplotlib is not installed.
    """
    try:
        import matplotlib
    except ImportError:
        raise MissingDependencyError("PNG plots", "matplotlib", "lemur-eval[report]") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plots_available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        _pyplot()
    except MissingDependencyError:
        return False
    return True


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    # No bbox_inches="tight": it would change the pixel size from figure to figure.
    figure.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return buffer.getvalue()


def success_by_turn_png(
    title: str, series: Sequence[tuple[str, Sequence[float]]], colors: Sequence[str] | None = None
) -> bytes:
    """Success rate (%) within ``k`` turns against ``k``, one line per run, as a PNG.

    Args:
        title: The benchmark's display name.
        series: ``(run label, fractions)`` where entry ``k-1`` is the fraction solved within
            ``k`` turns.
        colors: One matplotlib color per series (so a run keeps its color across plots);
            ``None`` uses the default cycle.

    Raises:
        MissingDependencyError: matplotlib is not installed.
    """
    plt = _pyplot()
    width, height = SUCCESS_BY_TURN_SIZE
    figure, axes = plt.subplots(figsize=(width / _DPI, height / _DPI), dpi=_DPI)
    try:
        max_turns = max(len(values) for _, values in series)
        for index, (label, values) in enumerate(series):
            turns = range(1, len(values) + 1)
            color = colors[index] if colors else None
            axes.plot(
                turns, [100.0 * v for v in values], marker="o", linewidth=2, markersize=5, label=label, color=color
            )
        axes.set_title(f"{title}: success rate by interaction turn")
        axes.set_xlabel("Interaction turns allowed (k)")
        axes.set_ylabel("Success rate within k turns (%)")
        axes.set_xticks(range(1, max_turns + 1))
        axes.set_xlim(0.7, max_turns + 0.3)
        axes.set_ylim(0, 100)
        axes.grid(True, alpha=0.3)
        axes.legend(loc="lower right", fontsize="small")
        figure.tight_layout()
        return _png(figure)
    finally:
        plt.close(figure)


def radar_png(
    axis_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    colors: Sequence[str] | None = None,
) -> bytes:
    """A radar chart of scores (%) per axis, one polygon per run, as a PNG.

    A missing value leaves a gap in that run's polygon rather than drawing it as 0.

    Args:
        axis_labels: At least three axis names.
        series: ``(run label, value per axis in percent or None)``.
        colors: One matplotlib color per series; ``None`` uses the default cycle.

    Raises:
        ValueError: Fewer than three axes.
        MissingDependencyError: matplotlib is not installed.
    """
    if len(axis_labels) < 3:
        raise ValueError(f"a radar chart needs at least 3 axes, got {len(axis_labels)}")
    plt = _pyplot()
    width, height = RADAR_SIZE
    figure = plt.figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI)
    try:
        axes = figure.add_axes((0.22, 0.22, 0.56, 0.62), projection="polar")
        axes.set_theta_offset(math.pi / 2)
        axes.set_theta_direction(-1)
        angles = [2 * math.pi * i / len(axis_labels) for i in range(len(axis_labels))]
        for index, (label, values) in enumerate(series):
            closed = [math.nan if v is None else v for v in values]
            color = colors[index] if colors else None
            ring = ([*angles, angles[0]], [*closed, closed[0]])
            line = axes.plot(*ring, linewidth=2, marker="o", label=label, color=color)[0]
            if all(v is not None for v in values):
                axes.fill([*angles, angles[0]], [*closed, closed[0]], alpha=0.12, color=line.get_color())
        axes.set_xticks(angles)
        axes.set_xticklabels([textwrap.fill(label, 14) for label in axis_labels])
        axes.tick_params(axis="x", pad=10)
        for text, angle in zip(axes.get_xticklabels(), angles, strict=True):
            # Clockwise from the top: labels on the right grow rightwards, on the left leftwards.
            side = math.sin(angle)
            text.set_horizontalalignment("left" if side > 0.1 else "right" if side < -0.1 else "center")
        axes.set_ylim(0, 100)
        axes.set_yticks([20, 40, 60, 80, 100])
        axes.set_yticklabels(["20", "40", "60", "80", "100"], fontsize="small", color="gray")
        axes.set_rlabel_position(360 / len(axis_labels) / 2)
        figure.suptitle("Scores by capability group (%)", y=0.97)
        figure.legend(loc="lower center", bbox_to_anchor=(0.5, 0.01), fontsize="small", frameon=False)
        return _png(figure)
    finally:
        plt.close(figure)
