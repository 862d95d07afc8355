"""Rotation conversions: hand-checked conventions plus property tests over every Euler order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from engine.media.motion.rotations import (
    TAIT_BRYAN_ORDERS,
    axis_angle_matrix,
    axis_rotation,
    euler_to_matrix,
    euler_to_quat,
    geodesic_angle_deg,
    matrix_to_6d,
    matrix_to_euler,
    matrix_to_quat,
    nearest_rotation,
    quat_multiply,
    quat_slerp,
    quat_to_euler,
    quat_to_matrix,
    rotation_between,
    sixd_to_matrix,
)

angle = st.floats(-180.0, 180.0, allow_nan=False)
inner_angle = st.floats(-179.0, 179.0, allow_nan=False)
middle_angle = st.floats(-89.0, 89.0, allow_nan=False)
orders = st.sampled_from(TAIT_BRYAN_ORDERS)
euler_batch = st.lists(st.tuples(angle, angle, angle), min_size=1, max_size=8)
SETTINGS = settings(max_examples=60, deadline=None)


def _is_rotation(matrix: np.ndarray) -> bool:
    eye = np.broadcast_to(np.eye(3), matrix.shape)
    return bool(
        np.allclose(np.swapaxes(matrix, -1, -2) @ matrix, eye, atol=1e-12)
        and np.allclose(np.linalg.det(matrix), 1.0, atol=1e-12)
    )


def test_intrinsic_order_matches_bvh_channel_order() -> None:
    # ZXY channels (z, x, y) mean R = Rz(z) @ Rx(x) @ Ry(y): compose by hand.
    z, x, y = 30.0, -50.0, 70.0
    expected = axis_rotation("Z", z) @ axis_rotation("X", x) @ axis_rotation("Y", y)
    np.testing.assert_allclose(euler_to_matrix([z, x, y], "ZXY"), expected, atol=1e-15)


def test_axis_rotation_is_right_handed() -> None:
    np.testing.assert_allclose(axis_rotation("Z", 90.0) @ [1.0, 0, 0], [0, 1.0, 0], atol=1e-15)
    np.testing.assert_allclose(axis_rotation("X", 90.0) @ [0, 1.0, 0], [0, 0, 1.0], atol=1e-15)
    np.testing.assert_allclose(axis_rotation("Y", 90.0) @ [0, 0, 1.0], [1.0, 0, 0], atol=1e-15)


@SETTINGS
@given(order=orders, angles=euler_batch)
def test_euler_matrix_euler_reproduces_the_rotation(
    order: str, angles: list[tuple[float, float, float]]
) -> None:
    matrix = euler_to_matrix(np.array(angles), order)
    assert _is_rotation(matrix)
    back = matrix_to_euler(matrix, order)
    np.testing.assert_allclose(euler_to_matrix(back, order), matrix, atol=1e-12)


@SETTINGS
@given(order=orders, first=inner_angle, middle=middle_angle, third=inner_angle)
def test_euler_round_trip_gives_the_same_angles_in_the_principal_range(
    order: str, first: float, middle: float, third: float
) -> None:
    angles = np.array([first, middle, third])
    np.testing.assert_allclose(
        matrix_to_euler(euler_to_matrix(angles, order), order), angles, atol=1e-9
    )


@pytest.mark.parametrize("order", TAIT_BRYAN_ORDERS)
@pytest.mark.parametrize("middle", [90.0, -90.0, 90.0 - 1e-9, -90.0 + 1e-7])
def test_gimbal_lock_still_reproduces_the_matrix(order: str, middle: float) -> None:
    angles = np.array([[37.0, middle, -112.0], [-170.0, middle, 15.0]])
    matrix = euler_to_matrix(angles, order)
    back = matrix_to_euler(matrix, order)
    assert np.all(np.isfinite(back))
    np.testing.assert_allclose(euler_to_matrix(back, order), matrix, atol=1e-12)
    if abs(middle) == 90.0:
        np.testing.assert_allclose(back[:, 2], 0.0, atol=1e-12)  # third angle set to 0 at lock


@SETTINGS
@given(order=orders, angles=euler_batch)
def test_quaternion_round_trips(order: str, angles: list[tuple[float, float, float]]) -> None:
    matrix = euler_to_matrix(np.array(angles), order)
    quat = matrix_to_quat(matrix)
    np.testing.assert_allclose(np.linalg.norm(quat, axis=-1), 1.0, atol=1e-12)
    assert np.all(quat[:, 0] >= 0)
    np.testing.assert_allclose(quat_to_matrix(quat), matrix, atol=1e-12)
    np.testing.assert_allclose(
        euler_to_matrix(quat_to_euler(euler_to_quat(angles, order), order), order),
        matrix,
        atol=1e-12,
    )


@SETTINGS
@given(a=euler_batch, b=euler_batch)
def test_quaternion_product_composes_like_matrices(a: list, b: list) -> None:
    n = min(len(a), len(b))
    ma, mb = euler_to_matrix(np.array(a[:n]), "XYZ"), euler_to_matrix(np.array(b[:n]), "ZXY")
    product = quat_multiply(matrix_to_quat(ma), matrix_to_quat(mb))
    np.testing.assert_allclose(quat_to_matrix(product), ma @ mb, atol=1e-12)


@SETTINGS
@given(order=orders, angles=euler_batch)
def test_6d_round_trip(order: str, angles: list[tuple[float, float, float]]) -> None:
    matrix = euler_to_matrix(np.array(angles), order)
    np.testing.assert_allclose(sixd_to_matrix(matrix_to_6d(matrix)), matrix, atol=1e-12)


@SETTINGS
@given(vectors=st.lists(st.floats(-5, 5, allow_nan=False), min_size=6, max_size=6))
@example(vectors=[4.5, 0.001, 4.5, 5.0, 0.0, 5.0])  # nearly parallel: one pass is not enough
def test_6d_gram_schmidt_gives_a_rotation_for_any_network_output(vectors: list[float]) -> None:
    six = np.array(vectors)
    a1, a2 = six[:3], six[3:]
    assume(
        np.linalg.norm(a1) > 1e-3 and np.linalg.norm(np.cross(a1, a2)) > 1e-3 * np.linalg.norm(a1)
    )
    matrix = sixd_to_matrix(six)
    assert _is_rotation(matrix)
    np.testing.assert_allclose(matrix[:, 0], a1 / np.linalg.norm(a1), atol=1e-12)


def test_degenerate_6d_raises() -> None:
    with pytest.raises(ValueError, match="degenerate"):
        sixd_to_matrix([1.0, 0, 0, 2.0, 0, 0])
    with pytest.raises(ValueError, match="degenerate"):
        sixd_to_matrix(np.zeros(6))


def test_6d_layout_is_the_first_two_columns() -> None:
    matrix = euler_to_matrix([10.0, 20.0, 30.0], "XYZ")
    np.testing.assert_array_equal(
        matrix_to_6d(matrix), np.concatenate([matrix[:, 0], matrix[:, 1]])
    )


@SETTINGS
@given(a=st.tuples(angle, angle, angle), b=st.tuples(angle, angle, angle), t=st.floats(0, 1))
def test_slerp_takes_the_shortest_arc_at_constant_speed(a: tuple, b: tuple, t: float) -> None:
    qa, qb = euler_to_quat(np.array(a), "ZXY"), euler_to_quat(np.array(b), "ZXY")
    ma, mb = quat_to_matrix(qa), quat_to_matrix(qb)
    total = geodesic_angle_deg(ma, mb)
    assert total <= 180.0 + 1e-9
    mid = quat_to_matrix(quat_slerp(qa, -qb, t))  # sign of q1 must not matter
    np.testing.assert_allclose(geodesic_angle_deg(ma, mid), t * total, atol=1e-6)
    np.testing.assert_allclose(geodesic_angle_deg(mid, mb), (1 - t) * total, atol=1e-6)


def test_slerp_endpoints_and_broadcasting() -> None:
    q0 = euler_to_quat([[0.0, 0.0, 0.0]] * 2, "XYZ")
    q1 = euler_to_quat([[0.0, 90.0, 0.0], [0.0, 0.0, 120.0]], "XYZ")
    t = np.array([0.0, 0.5, 1.0])[:, None]  # [3, 1] against [2, 4]
    path = quat_slerp(q0, q1, t)
    assert path.shape == (3, 2, 4)
    np.testing.assert_allclose(path[0], q0, atol=1e-15)
    np.testing.assert_allclose(path[2], q1, atol=1e-12)
    np.testing.assert_allclose(
        quat_to_matrix(path[1, 0]), euler_to_matrix([0.0, 45.0, 0.0], "XYZ"), atol=1e-12
    )


def test_geodesic_angle() -> None:
    assert geodesic_angle_deg(np.eye(3), np.eye(3)) == 0.0
    np.testing.assert_allclose(
        geodesic_angle_deg(np.eye(3), axis_rotation("X", 37.0)), 37.0, atol=1e-12
    )
    np.testing.assert_allclose(
        geodesic_angle_deg(np.eye(3), axis_rotation("Y", 180.0)), 180.0, atol=1e-12
    )
    tiny = axis_rotation("Z", 1e-7)
    np.testing.assert_allclose(geodesic_angle_deg(np.eye(3), tiny), 1e-7, rtol=1e-6)


def test_bad_orders_and_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="Euler order"):
        matrix_to_euler(np.eye(3), "XYX")
    with pytest.raises(ValueError, match="last axis"):
        euler_to_matrix([1.0, 2.0], "XYZ")
    with pytest.raises(ValueError, match="unknown rotation axis"):
        axis_rotation("W", 1.0)
    # one- and two-axis channel lists are valid BVH: forward conversion accepts them
    np.testing.assert_allclose(euler_to_matrix([90.0], "Y"), axis_rotation("Y", 90.0))


def test_nearest_rotation_is_a_rotation_and_keeps_rotations() -> None:
    rng = np.random.default_rng(7)
    noisy = rng.normal(size=(6, 3, 3))
    fixed = nearest_rotation(noisy)
    np.testing.assert_allclose(
        fixed @ np.swapaxes(fixed, -1, -2), np.broadcast_to(np.eye(3), (6, 3, 3)), atol=1e-12
    )
    np.testing.assert_allclose(np.linalg.det(fixed), 1.0)
    rotation = euler_to_matrix([10.0, -40.0, 75.0], "ZXY")
    np.testing.assert_allclose(nearest_rotation(rotation * 3.0), rotation, atol=1e-12)


@pytest.mark.parametrize(
    "source,target",
    [
        ([1, 0, 0], [0, 1, 0]),
        ([0, 0, 2], [0, 0, 5]),
        ([1, 2, 3], [-1, -2, -3]),
        ([0, 1, 0], [0, -1, 0]),
    ],
)
def test_rotation_between_takes_one_direction_onto_the_other(source, target) -> None:
    rotation = rotation_between(source, target)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    expected = np.asarray(target, float) / np.linalg.norm(target)
    np.testing.assert_allclose(
        rotation @ (np.asarray(source, float) / np.linalg.norm(source)), expected, atol=1e-12
    )


def test_axis_angle_matrix_matches_the_axis_rotations() -> None:
    np.testing.assert_allclose(
        axis_angle_matrix([0, 1, 0], np.deg2rad(30.0)), axis_rotation("Y", 30.0), atol=1e-12
    )
    np.testing.assert_allclose(
        axis_angle_matrix([1, 0, 0], np.deg2rad(-90.0)), axis_rotation("X", -90.0), atol=1e-12
    )
