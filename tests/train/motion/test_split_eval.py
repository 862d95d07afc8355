"""The split evaluation's pieces: activity rule, per-gap metrics, the table and target check."""

from __future__ import annotations

import numpy as np

from engine.media.motion.bvh import parse_bvh
from engine.media.motion.energy import Energy, motion_energy
from engine.media.motion.kinematics import global_positions
from engine.media.motion.skeleton import map_skeleton
from engine.train.motion import activity, split_report
from engine.train.motion.gap_metrics import Stretch, capture_tally, diversity_cm, measure
from engine.train.motion.split_eval import Cell, body_of
from tests.engine.motion.synthetic_bvh import bandai_like


def test_activity_from_name_and_energy() -> None:
    walk, wave = (
        "dataset-2_walk-turn-left_elderly_009.bvh",
        "dataset-2_wave-left-hand_normal_002.bvh",
    )
    assert activity.classify("Bandai", walk, Energy(3.0, 3.0)) == "locomotion"
    assert activity.classify("Bandai", walk, Energy(0.2, 0.3)) == "near-still"  # standing
    assert activity.classify("Bandai", walk, Energy(1.0, 2.0)) == "gesture"  # turning in place
    assert activity.classify("Bandai", wave, Energy(0.1, 2.0)) == "gesture"
    assert activity.classify("Bandai", wave, Energy(3.0, 2.0)) == "gesture"  # named a gesture
    assert activity.classify("ReActIdle", "genuine/004.bvh", Energy(2.0, 2.0)) == "gesture"
    assert activity.classify("CMU", "007_05.bvh", Energy(4.0, 3.0)) == "locomotion"


def _stretch() -> tuple[Stretch, np.ndarray, object]:
    clip = parse_bvh(bandai_like(60, 0))
    body = body_of(map_skeleton(clip))
    positions = global_positions(clip)
    floors = positions[:, body.feet, 1].min(axis=0)
    return Stretch(positions, slice(20, 40), 1.0, floors), positions, body


def test_the_capture_measured_against_itself_is_perfect_and_noise_is_not() -> None:
    stretch, positions, body = _stretch()
    same = measure(stretch, positions, body)  # type: ignore[arg-type]
    capture = capture_tally(stretch, body)  # type: ignore[arg-type]
    assert same.error_sum == 0.0 and same.jerk == capture.jerk > 0
    assert same.amplitude == capture.amplitude > 0
    noisy = positions + np.random.default_rng(0).normal(0, 1.0, positions.shape)
    worse = measure(stretch, noisy, body)  # type: ignore[arg-type]
    assert worse.error_sum / worse.error_count > 1.0 and worse.jerk > 3 * capture.jerk
    assert diversity_cm([positions, noisy], stretch, body) > 1.0  # type: ignore[arg-type]
    assert diversity_cm([positions, positions], stretch, body) == 0.0  # type: ignore[arg-type]


def test_energy_is_per_30_fps_frame() -> None:
    positions = np.zeros((11, 3, 3))
    positions[:, 0, 0] = np.arange(11) * 2.0  # the hips walk 2 cm per frame
    positions[:, 1:, 0] = positions[:, :1, 0]
    assert motion_energy(positions, 0, np.array([1, 2]), 1.0) == Energy(2.0, 0.0)
    assert motion_energy(positions, 0, np.array([1, 2]), 2.0).root == 4.0  # a 60-fps clip


def test_table_and_targets_name_the_failing_cells() -> None:
    stretch, positions, body = _stretch()
    cell = Cell()
    cell.capture.add(capture_tally(stretch, body))  # type: ignore[arg-type]
    cell.tally("model").add(measure(stretch, positions + 0.5, body))  # type: ignore[arg-type]
    cell.tally("model").diversity.append(0.3)
    cell.tally("interpolation").add(measure(stretch, positions + 0.2, body))  # type: ignore[arg-type]
    cell.gaps = 1
    cells = {("near-still", "Bandai", 30): cell}
    text = split_report.table(cells)
    assert "| near-still | Bandai | 30 | 1 | 0.87 / 0.35 | 2.50 |" in text
    checks = split_report.targets(cells)
    assert "near-still error <= 1.0x interpolation: missed in near-still/Bandai/30" in checks
    assert "jerk <= 1.3x capture: met in every cell" in checks
