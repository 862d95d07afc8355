"""The ``clip`` fixture: each motion clip test that takes it runs once per rig style."""

from __future__ import annotations

import pytest

from engine.media.motion.clip import Clip
from tests.engine.motion.clip_cases import CLIPS


@pytest.fixture(params=sorted(CLIPS))
def clip(request: pytest.FixtureRequest) -> Clip:
    return CLIPS[request.param]()
