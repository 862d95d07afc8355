"""Motion metrics: position and rotation error against a reference, foot skating."""

from __future__ import annotations

import numpy as np
import pytest

from engine.media.motion.bvh import parse_bvh
from engine.media.motion.clip import Clip, MotionError
from engine.media.motion.editing import interpolate_range
from engine.media.motion.metrics import foot_skating_cm, motion_metrics
from tests.engine.motion.clip_cases import turned_walker
from tests.engine.motion.synthetic_bvh import bandai_like, reactidle_like


def test_metrics_are_zero_for_identical_clips(clip: Clip) -> None:
    metrics = motion_metrics(clip, clip, np.arange(5, 20))
    assert metrics.position_error_cm == 0.0 and metrics.rotation_error_deg == 0.0
    assert metrics.foot_skating_cm == metrics.reference_foot_skating_cm


def test_metrics_are_positive_for_a_different_prediction(clip: Clip) -> None:
    prediction = interpolate_range(clip, 5, 30)
    metrics = motion_metrics(clip, prediction, np.arange(5, 31))
    assert metrics.position_error_cm > 0 and metrics.rotation_error_deg > 0
    outside = motion_metrics(clip, prediction, [0, 1, 2, 35])
    assert outside.position_error_cm == 0.0 and outside.rotation_error_deg == 0.0


def test_position_error_is_in_centimetres() -> None:
    reference = parse_bvh(reactidle_like(10))  # metres
    motion = reference.motion.copy()
    motion[:, 0] += 0.01  # pelvis Xposition: 1 cm
    metrics = motion_metrics(reference, reference.with_motion(motion), range(10))
    assert metrics.position_error_cm == pytest.approx(1.0)
    assert metrics.rotation_error_deg == 0.0


def test_foot_skating_measures_sliding_planted_feet() -> None:
    walker = turned_walker(10)  # feet at floor height, sliding 3 cm/frame with the hips
    assert foot_skating_cm(walker, range(10)) == pytest.approx(3.0)
    still = walker.with_motion(np.where(np.arange(walker.n_channels) == 6, 0.0, walker.motion))
    assert foot_skating_cm(still, range(10)) == 0.0
    assert motion_metrics(still, walker, range(10)).foot_skating_cm == pytest.approx(3.0)


def test_metric_frame_errors() -> None:
    clip = parse_bvh(bandai_like(10))
    with pytest.raises(MotionError, match="outside the clip's frames 0..9"):
        motion_metrics(clip, clip, [3, 10])
    with pytest.raises(MotionError, match="no frames"):
        motion_metrics(clip, clip, [])
    with pytest.raises(MotionError, match="share skeleton"):
        motion_metrics(clip, parse_bvh(bandai_like(11)), [1])
