"""Rotation conversions for motion: Euler (BVH channel orders) <-> matrices <-> quaternions <-> 6D.

Conventions, stated once and used everywhere in ``engine/media``:

- Matrices act on column vectors: ``v_parent = R @ v_local``. Arrays are float64
  ``[..., 3, 3]``; every function is vectorised over the leading axes (frames, joints).
- Euler angles are in **degrees** and intrinsic, as BVH uses them: a channel list
  ``Zrotation Xrotation Yrotation`` (order ``"ZXY"``) with values ``(z, x, y)`` means
  ``R = Rz(z) @ Rx(x) @ Ry(y)``. ``angles[..., i]`` belongs to axis ``order[i]``.
- Quaternions are ``[..., 4]`` as ``(w, x, y, z)``, unit length, and returned with
  ``w >= 0`` (one canonical sign of the double cover).
- 6D is the first two matrix columns (Zhou et al., CVPR 2019), laid out
  ``[r00, r10, r20, r01, r11, r21]``; it is continuous, which is why models predict it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
"""float64 array; the shape is given where it is used."""

TAIT_BRYAN_ORDERS: tuple[str, ...] = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
"""The six orders that name every axis once; only these convert back from matrices."""

_AXIS_INDEX = {"X": 0, "Y": 1, "Z": 2}
_GIMBAL_EPS = 1e-12
"""Below this |cos(middle angle)| the third angle is rounding noise (gimbal lock): set to 0."""


def axis_rotation(axis: str, angles_deg: npt.ArrayLike) -> FloatArray:
    """Rotation matrices ``[..., 3, 3]`` about one principal axis (``"X"``, ``"Y"`` or ``"Z"``)."""
    if axis not in _AXIS_INDEX:
        raise ValueError(f"unknown rotation axis {axis!r}; expected X, Y or Z")
    radians = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
    cos, sin = np.cos(radians), np.sin(radians)
    i = _AXIS_INDEX[axis]
    j, k = (i + 1) % 3, (i + 2) % 3
    matrix = np.zeros(radians.shape + (3, 3))
    matrix[..., i, i] = 1.0
    matrix[..., j, j] = cos
    matrix[..., k, k] = cos
    matrix[..., j, k] = -sin
    matrix[..., k, j] = sin
    return matrix


def euler_to_matrix(angles_deg: npt.ArrayLike, order: str) -> FloatArray:
    """Matrices ``[..., 3, 3]`` from intrinsic Euler angles ``[..., len(order)]`` in degrees.

    ``order`` may be any sequence of axes (BVH allows one, two or repeated rotation
    channels), so forward kinematics never has to reject a file it can read.
    """
    angles = np.asarray(angles_deg, dtype=np.float64)
    if angles.shape[-1:] != (len(order),):
        raise ValueError(
            f"angles have shape {angles.shape}; last axis must be {len(order)} for {order!r}"
        )
    matrix = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for index, axis in enumerate(order.upper()):
        matrix = matrix @ axis_rotation(axis, angles[..., index])
    return matrix


def matrix_to_euler(matrix: npt.ArrayLike, order: str) -> FloatArray:
    """Intrinsic Euler angles ``[..., 3]`` in degrees for a Tait-Bryan ``order``.

    The middle angle lies in [-90, 90] and the others in (-180, 180]. The first
    angle is read last, from what is left after taking the middle and third
    rotations off, so it absorbs rounding and the result reproduces the matrix to
    machine precision even next to gimbal lock. At lock (middle angle +-90) only
    the sum or difference of the outer angles is defined; the third is then 0.
    """
    order = order.upper()
    if order not in TAIT_BRYAN_ORDERS:
        raise ValueError(
            f"cannot convert a matrix to Euler order {order!r}; use one of {TAIT_BRYAN_ORDERS}"
        )
    rot = np.asarray(matrix, dtype=np.float64)
    i, j, k = (_AXIS_INDEX[a] for a in order)
    sign = 1.0 if (j - i) % 3 == 1 else -1.0  # +1 for cyclic orders (XYZ, YZX, ZXY)
    cos_middle = np.hypot(rot[..., i, i], rot[..., i, j])
    middle = np.rad2deg(np.arctan2(sign * rot[..., i, k], cos_middle))
    third = np.rad2deg(np.arctan2(-sign * rot[..., i, j], rot[..., i, i]))
    third = np.where(cos_middle < _GIMBAL_EPS, 0.0, third)
    remainder = rot @ axis_rotation(order[2], -third) @ axis_rotation(order[1], -middle)
    first = np.rad2deg(np.arctan2(sign * remainder[..., k, j], remainder[..., j, j]))
    return np.stack([first, middle, third], axis=-1)


def matrix_to_quat(matrix: npt.ArrayLike) -> FloatArray:
    """Unit quaternions ``[..., 4]`` (w, x, y, z), w >= 0, from rotation matrices.

    Uses the largest of the four diagonal combinations as the pivot (Shepperd), so
    the result stays accurate for rotations near 180 degrees.
    """
    rot = np.asarray(matrix, dtype=np.float64)
    m00, m11, m22 = rot[..., 0, 0], rot[..., 1, 1], rot[..., 2, 2]
    candidates = np.stack(
        [
            np.stack(
                [
                    1 + m00 + m11 + m22,
                    rot[..., 2, 1] - rot[..., 1, 2],
                    rot[..., 0, 2] - rot[..., 2, 0],
                    rot[..., 1, 0] - rot[..., 0, 1],
                ],
                axis=-1,
            ),
            np.stack(
                [
                    rot[..., 2, 1] - rot[..., 1, 2],
                    1 + m00 - m11 - m22,
                    rot[..., 1, 0] + rot[..., 0, 1],
                    rot[..., 0, 2] + rot[..., 2, 0],
                ],
                axis=-1,
            ),
            np.stack(
                [
                    rot[..., 0, 2] - rot[..., 2, 0],
                    rot[..., 1, 0] + rot[..., 0, 1],
                    1 - m00 + m11 - m22,
                    rot[..., 2, 1] + rot[..., 1, 2],
                ],
                axis=-1,
            ),
            np.stack(
                [
                    rot[..., 1, 0] - rot[..., 0, 1],
                    rot[..., 0, 2] + rot[..., 2, 0],
                    rot[..., 2, 1] + rot[..., 1, 2],
                    1 - m00 - m11 + m22,
                ],
                axis=-1,
            ),
        ],
        axis=-2,
    )  # [..., 4 pivots, 4]; row p is 4 * q[p] * q
    pivot = np.argmax(
        np.stack(
            [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22],
            axis=-1,
        ),
        axis=-1,
    )
    chosen = np.take_along_axis(candidates, pivot[..., None, None], axis=-2)[..., 0, :]
    return quat_normalize(chosen)


def quat_normalize(quat: npt.ArrayLike) -> FloatArray:
    """Unit quaternions with w >= 0 (the canonical half of the double cover)."""
    q = np.asarray(quat, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.asarray(np.where(q[..., :1] < 0, -q, q), dtype=np.float64)


def quat_to_matrix(quat: npt.ArrayLike) -> FloatArray:
    """Rotation matrices ``[..., 3, 3]`` from quaternions (normalised first)."""
    q = np.asarray(quat, dtype=np.float64)
    w, x, y, z = np.moveaxis(q / np.linalg.norm(q, axis=-1, keepdims=True), -1, 0)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def quat_multiply(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Hamilton product ``a * b`` (rotation ``b`` first, then ``a``), broadcast."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quat_slerp(q0: npt.ArrayLike, q1: npt.ArrayLike, t: npt.ArrayLike) -> FloatArray:
    """Spherical interpolation from ``q0`` (t=0) to ``q1`` (t=1) along the shorter arc.

    ``q1`` is flipped where ``dot(q0, q1) < 0`` so the path never takes the long way
    round; nearly equal quaternions fall back to normalised lerp, where slerp's
    ``sin(angle)`` denominator would lose precision. ``t`` broadcasts against the
    leading axes of the quaternions.
    """
    a = quat_normalize(q0)
    b = quat_normalize(q1)
    weight = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0, -b, b)
    dot = np.clip(np.abs(dot), 0.0, 1.0)
    angle = np.arccos(dot)
    sin_angle = np.sin(angle)
    near = sin_angle < 1e-6
    safe_sin = np.where(near, 1.0, sin_angle)
    w0 = np.where(near, 1.0 - weight, np.sin((1.0 - weight) * angle) / safe_sin)
    w1 = np.where(near, weight, np.sin(weight * angle) / safe_sin)
    return quat_normalize(w0 * a + w1 * b)


def matrix_slerp(m0: npt.ArrayLike, m1: npt.ArrayLike, t: npt.ArrayLike) -> FloatArray:
    """Shortest-arc interpolation between rotation matrices (via quaternions)."""
    return quat_to_matrix(quat_slerp(matrix_to_quat(m0), matrix_to_quat(m1), t))


def matrix_to_6d(matrix: npt.ArrayLike) -> FloatArray:
    """The continuous 6D representation ``[..., 6]``: columns 0 and 1 of the matrix."""
    rot = np.asarray(matrix, dtype=np.float64)
    return np.concatenate([rot[..., :, 0], rot[..., :, 1]], axis=-1)


def sixd_to_matrix(sixd: npt.ArrayLike) -> FloatArray:
    """Rotation matrices from 6D vectors by Gram-Schmidt, so any network output maps to a rotation.

    Degenerate inputs (a zero or parallel pair of columns) have no rotation; they
    raise ``ValueError`` instead of returning NaN.
    """
    six = np.asarray(sixd, dtype=np.float64)
    if six.shape[-1:] != (6,):
        raise ValueError(f"6D rotations need a last axis of 6, got shape {six.shape}")
    a1, a2 = six[..., :3], six[..., 3:]
    n1 = np.linalg.norm(a1, axis=-1, keepdims=True)
    b2 = a2 - np.sum(a1 * a2, axis=-1, keepdims=True) / np.where(n1 > 0, n1 * n1, 1.0) * a1
    n2 = np.linalg.norm(b2, axis=-1, keepdims=True)
    if np.any(n1 < 1e-12) or np.any(n2 < 1e-12):
        raise ValueError("degenerate 6D rotation: the two columns are zero or parallel")
    c1 = a1 / n1
    b2 = _reorthogonalised(b2, n2, np.linalg.norm(a2, axis=-1, keepdims=True), c1)
    c2 = b2 / np.linalg.norm(b2, axis=-1, keepdims=True)
    return np.stack([c1, c2, np.cross(c1, c2)], axis=-1)


REORTHOGONALISE_BELOW = 1e-2
"""Share of ``a2``'s norm left after the projection below which a second pass runs."""


def _reorthogonalised(
    b2: FloatArray, n2: FloatArray, a2_norm: FloatArray, c1: FloatArray
) -> FloatArray:
    """A second Gram-Schmidt pass where the first one cancelled most of ``a2``.

    When the columns are nearly parallel, ``b2`` is the small difference of two large
    vectors and keeps a rounding-sized component along ``c1``, so the matrix is not
    orthogonal to working precision. Repeating the projection restores it ("twice is
    enough"). The pass runs only where the first one lost more than two digits of ``a2``
    (``REORTHOGONALISE_BELOW``), where the rounding left behind would approach 1e-12;
    everywhere else a decoded pose keeps the exact bits it always had.
    """
    lost = n2 < a2_norm * REORTHOGONALISE_BELOW
    if not np.any(lost):
        return b2
    again = b2 - np.sum(c1 * b2, axis=-1, keepdims=True) * c1
    return np.where(lost, again, b2)


def euler_to_quat(angles_deg: npt.ArrayLike, order: str) -> FloatArray:
    """Quaternions (w, x, y, z) from intrinsic Euler angles in degrees."""
    return matrix_to_quat(euler_to_matrix(angles_deg, order))


def quat_to_euler(quat: npt.ArrayLike, order: str) -> FloatArray:
    """Intrinsic Euler angles in degrees from quaternions (see :func:`matrix_to_euler`)."""
    return matrix_to_euler(quat_to_matrix(quat), order)


def geodesic_angle_deg(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """The angle in degrees of the rotation taking ``a`` to ``b`` (matrices, broadcast)."""
    relative = np.swapaxes(np.asarray(a, dtype=np.float64), -1, -2) @ np.asarray(
        b, dtype=np.float64
    )
    # atan2(sin, cos) instead of arccos(cos): accurate near 0, and exactly 0 for equal inputs.
    skew = np.stack(
        [
            relative[..., 2, 1] - relative[..., 1, 2],
            relative[..., 0, 2] - relative[..., 2, 0],
            relative[..., 1, 0] - relative[..., 0, 1],
        ],
        axis=-1,
    )
    sin2 = np.linalg.norm(skew, axis=-1)
    cos2 = np.trace(relative, axis1=-2, axis2=-1) - 1.0
    return np.asarray(np.rad2deg(np.arctan2(sin2, cos2)), dtype=np.float64)


def yaw_matrix(yaw_rad: npt.ArrayLike) -> FloatArray:
    """Rotations about +Y by ``yaw_rad`` radians: the heading frame of a Y-up character."""
    return axis_rotation("Y", np.rad2deg(np.asarray(yaw_rad, dtype=np.float64)))


def unwrap_degrees(angles_deg: npt.ArrayLike, axis: int = 0) -> FloatArray:
    """Remove 360-degree jumps along ``axis`` so Euler curves stay continuous (same rotations)."""
    return np.unwrap(np.asarray(angles_deg, dtype=np.float64), period=360.0, axis=axis)


def nearest_rotation(matrix: npt.ArrayLike) -> FloatArray:
    """The rotation closest to ``matrix`` in the Frobenius norm (SVD, determinant forced to +1).

    Used for chordal means of rotations and for Wahba/Procrustes fits.
    """
    u, _, vt = np.linalg.svd(np.asarray(matrix, dtype=np.float64))
    flip = np.ones(u.shape[:-1])
    flip[..., -1] = np.sign(np.linalg.det(u @ vt))
    return np.asarray((u * flip[..., None, :]) @ vt, dtype=np.float64)


def axis_angle_matrix(axis: npt.ArrayLike, angle_rad: float) -> FloatArray:
    """The rotation by ``angle_rad`` about the unit vector ``axis`` (Rodrigues)."""
    x, y, z = np.asarray(axis, dtype=np.float64)
    skew = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.asarray(np.eye(3) + np.sin(angle_rad) * skew + (1 - np.cos(angle_rad)) * skew @ skew)


def rotation_between(source: npt.ArrayLike, target: npt.ArrayLike) -> FloatArray:
    """The smallest rotation taking direction ``source`` onto direction ``target``.

    Opposite directions have no unique smallest rotation; the half turn is then taken
    about the coordinate axis most perpendicular to ``source``.
    """
    u = np.asarray(source, dtype=np.float64) / np.linalg.norm(source)
    w = np.asarray(target, dtype=np.float64) / np.linalg.norm(target)
    axis = np.cross(u, w)
    sin, cos = float(np.linalg.norm(axis)), float(np.dot(u, w))
    if sin < 1e-9:
        if cos > 0:
            return np.eye(3)
        helper = np.eye(3)[int(np.argmin(np.abs(u)))]
        axis = np.cross(u, helper)
        return axis_angle_matrix(axis / np.linalg.norm(axis), np.pi)
    return axis_angle_matrix(axis / sin, float(np.arctan2(sin, cos)))
