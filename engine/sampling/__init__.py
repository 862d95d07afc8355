"""Masked-token sampling: schedules x position selectors x options, pure numpy.

``sample`` is the entry point; schedules and selectors are exported so the app
can list them and tests can check them on their own.
"""

from engine.sampling.sampler import sample
from engine.sampling.schedules import SCHEDULE_FNS, ScheduleFn, masked_counts, reveal_counts
from engine.sampling.selectors import SELECTOR_FNS, SelectionContext, Selector
from engine.sampling.types import (
    SCHEDULES,
    SELECTORS,
    BoolArray,
    FloatArray,
    LogitsFn,
    SamplerSettings,
    Step,
    TokenArray,
)

__all__ = [
    "SCHEDULES",
    "SCHEDULE_FNS",
    "SELECTORS",
    "SELECTOR_FNS",
    "BoolArray",
    "FloatArray",
    "LogitsFn",
    "SamplerSettings",
    "ScheduleFn",
    "SelectionContext",
    "Selector",
    "Step",
    "TokenArray",
    "masked_counts",
    "reveal_counts",
    "sample",
]
