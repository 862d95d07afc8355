"""When a training stage stops: a step count when one is given, else its time budget.

Torch-free, so the settings of every stage (and the parsers that build them) can share it.
"""

from __future__ import annotations


class TimeBudget:
    """Mixed into a frozen settings dataclass that declares ``minutes`` and ``max_steps``
    (0 = until the time budget is spent)."""

    minutes: float
    max_steps: int

    def done(self, step: int, elapsed: float) -> bool:
        if self.max_steps:
            return step >= self.max_steps
        return elapsed >= self.minutes * 60.0

    def progress(self, step: int, elapsed: float) -> float:
        """Share of the budget spent, in [0, 1] (what learning-rate schedules follow)."""
        if self.max_steps:
            return step / self.max_steps
        return min(elapsed / max(self.minutes * 60.0, 1e-9), 1.0)
