"""The split evaluation's cells as figures, a markdown table and a check against the targets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from engine.train.motion.activity import ACTIVITIES
from engine.train.motion.gap_metrics import Tally
from engine.train.motion.split_eval import RIGS, Cell, CellKey

Figures = dict[str, float]


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def _mean(total: float, count: int) -> float:
    return total / count if count else float("nan")


def method_figures(tally: Tally, capture: Tally) -> Figures:
    return {
        "error_cm": _mean(tally.error_sum, tally.error_count),
        "skating_cm": _mean(tally.skate_sum, tally.skate_count),
        "jerk_ratio": _ratio(tally.jerk, capture.jerk),
        "amplitude_ratio": _ratio(tally.amplitude, capture.amplitude),
    }


@dataclass(frozen=True)
class CellFigures:
    """One cell's figures: per method (``model``, ``interpolation``) and the capture's."""

    gaps: int
    model: Figures
    interpolation: Figures
    capture_skating_cm: float
    diversity_cm: float


def cell_figures(cell: Cell, model: str = "model") -> CellFigures:
    diversity = cell.tally(model).diversity
    return CellFigures(
        cell.gaps,
        method_figures(cell.tally(model), cell.capture),
        method_figures(cell.tally("interpolation"), cell.capture),
        _mean(cell.capture.skate_sum, cell.capture.skate_count),
        sum(diversity) / len(diversity) if diversity else float("nan"),
    )


def figures(cells: dict[CellKey, Cell], model: str = "model") -> dict[str, dict[str, object]]:
    """JSON-ready figures keyed ``"activity/rig/gap"``, in table order."""
    return {
        f"{a}/{r}/{g}": asdict(cell_figures(cells[(a, r, g)], model)) for a, r, g in ordered(cells)
    }


def ordered(cells: dict[CellKey, Cell]) -> list[CellKey]:
    return sorted(cells, key=lambda k: (ACTIVITIES.index(k[0]), RIGS.index(k[1]), k[2]))


HEADER = (
    "| activity | rig | gap | gaps | error model / interp (cm) | model ÷ interp "
    "| skating model / interp / capture (cm/frame) | jerk ÷ capture model / interp "
    "| amplitude ÷ capture model / interp | diversity (cm) |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def row(key: CellKey, cell: Cell, model: str = "model") -> str:
    f = cell_figures(cell, model)
    m, i = f.model, f.interpolation
    activity, rig, gap = key
    return (
        f"| {activity} | {rig} | {gap} | {f.gaps} "
        f"| {m['error_cm']:.2f} / {i['error_cm']:.2f} | {m['error_cm'] / i['error_cm']:.2f} "
        f"| {m['skating_cm']:.2f} / {i['skating_cm']:.2f} / {f.capture_skating_cm:.2f} "
        f"| {m['jerk_ratio']:.2f} / {i['jerk_ratio']:.2f} "
        f"| {m['amplitude_ratio']:.2f} / {i['amplitude_ratio']:.2f} | {f.diversity_cm:.2f} |"
    )


def table(cells: dict[CellKey, Cell], model: str = "model") -> str:
    """Markdown: one row per activity x rig x gap (gap in 30-fps frames)."""
    return "\n".join([HEADER, *(row(k, cells[k], model) for k in ordered(cells))])


def _near_still(key: CellKey, f: CellFigures) -> bool:
    return key[0] != "near-still" or f.model["error_cm"] <= f.interpolation["error_cm"]


def _locomotion(key: CellKey, f: CellFigures) -> bool:
    return key[0] != "locomotion" or f.model["error_cm"] <= 0.5 * f.interpolation["error_cm"]


def _jerk(key: CellKey, f: CellFigures) -> bool:
    return f.model["jerk_ratio"] <= 1.3


def _skating(key: CellKey, f: CellFigures) -> bool:
    """No contact in the gap (NaN) is no skating."""
    return not f.model["skating_cm"] > f.capture_skating_cm + 0.2


def _amplitude(key: CellKey, f: CellFigures) -> bool:
    return 0.8 <= f.model["amplitude_ratio"] <= 1.2


def _foreign(key: CellKey, f: CellFigures) -> bool:
    return key[1] == "Bandai" or f.model["error_cm"] <= f.interpolation["error_cm"]


TARGETS: dict[str, Callable[[CellKey, CellFigures], bool]] = {
    "near-still error <= 1.0x interpolation": _near_still,
    "locomotion error <= 0.5x interpolation": _locomotion,
    "jerk <= 1.3x capture": _jerk,
    "skating <= capture + 0.2 cm/frame": _skating,
    "amplitude within 20 %": _amplitude,
    "foreign rigs <= interpolation": _foreign,
}
"""Issue 19's targets, each a test of one cell (True where it does not apply)."""


def targets(cells: dict[CellKey, Cell], model: str = "model") -> str:
    """Which targets each cell meets (a line per target, failing cells named)."""
    lines = []
    for name, check in TARGETS.items():
        failing = [k for k in ordered(cells) if not check(k, cell_figures(cells[k], model))]
        where = ", ".join(f"{a}/{r}/{g}" for a, r, g in failing)
        lines.append(f"- {name}: " + (f"missed in {where}" if failing else "met in every cell"))
    return "\n".join(lines)
