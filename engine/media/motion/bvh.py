"""BVH motion files: a faithful reader and writer, and the :class:`Clip` value they exchange.

A :class:`Clip` keeps the raw channel values exactly as read (``motion``, float64
``[F, C]``, columns in file order), so reading a file and writing it back gives the
same numbers, and compositing can copy untouched frames bit-exact. Any hierarchy
is accepted: one or more roots, per-joint channel lists in any order, position
channels on any joint, End Sites.

Numbers are written in the style they were read in where that is lossless: a file
whose MOTION values all have the same number of decimals (``%.6f`` exporters) is
written with that many decimals; otherwise each value is written as the shortest
text that reads back to the identical float (``repr``), so ``-0``, ``93.9241`` and
``5.1072e-06`` come out as they went in.

Every malformed input raises :class:`BvhError` with a one-line message naming the
line where that helps.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Vec3 = tuple[float, float, float]

POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")
_CANONICAL_CHANNEL = {name.lower(): name for name in POSITION_CHANNELS + ROTATION_CHANNELS}


class BvhError(ValueError):
    """A BVH text that cannot be read or a clip that cannot be written; the message is one line."""


@dataclass(frozen=True)
class Joint:
    """One joint of a BVH hierarchy.

    ``parent`` indexes the clip's joint tuple (-1 for a root); joints are stored in
    file order, so a parent always comes before its children. ``channels`` uses the
    canonical spelling (``Xposition`` ... ``Zrotation``); ``end_site`` is the End
    Site offset when the joint has one.
    """

    name: str
    parent: int
    offset: Vec3
    channels: tuple[str, ...]
    end_site: Vec3 | None = None

    @property
    def rotation_order(self) -> str:
        """Rotation axes in channel order, e.g. ``"ZXY"`` (``R = Rz @ Rx @ Ry``); may be empty."""
        return "".join(c[0] for c in self.channels if c in ROTATION_CHANNELS)

    @property
    def position_axes(self) -> str:
        """The axes with a position channel, in channel order (``"XYZ"`` for a typical root)."""
        return "".join(c[0] for c in self.channels if c in POSITION_CHANNELS)


@dataclass(frozen=True, eq=False)
class Clip:
    """A motion clip as a BVH file holds it.

    ``motion`` is float64 ``[F, C]``: one row per frame, the channels of all joints
    in file order (``channel_start[j]`` is joint ``j``'s first column). It is stored
    as a read-only copy so a clip can be shared between threads and documents.
    ``decimals`` records a fixed-point input style (see the module docstring);
    ``None`` means shortest round-trip text.
    """

    joints: tuple[Joint, ...]
    frame_time: float
    motion: FloatArray
    decimals: int | None = None
    channel_start: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _check_joints(self.joints)
        starts = np.cumsum([0] + [len(j.channels) for j in self.joints])
        object.__setattr__(self, "channel_start", tuple(int(s) for s in starts[:-1]))
        motion = np.array(self.motion, dtype=np.float64, copy=True)
        if motion.ndim != 2 or motion.shape[1] != int(starts[-1]):
            raise ValueError(
                f"motion has shape {motion.shape}; expected [frames, {int(starts[-1])}]"
            )
        if not (np.isfinite(self.frame_time) and self.frame_time > 0):
            raise ValueError(f"frame time must be a positive number, got {self.frame_time}")
        motion.flags.writeable = False
        object.__setattr__(self, "motion", motion)

    @property
    def n_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.motion.shape[1])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    @property
    def parents(self) -> tuple[int, ...]:
        return tuple(j.parent for j in self.joints)

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def offsets(self) -> FloatArray:
        """Joint offsets ``[J, 3]`` from the hierarchy."""
        return np.array([j.offset for j in self.joints], dtype=np.float64).reshape(-1, 3)

    def joint_index(self, name: str) -> int:
        """The index of the joint called ``name`` (exact match); ``KeyError`` when absent."""
        for index, joint in enumerate(self.joints):
            if joint.name == name:
                return index
        raise KeyError(f"no joint named {name!r}")

    def channel_columns(self, joint: int, kind: str = "all") -> npt.NDArray[np.intp]:
        """Motion columns of one joint: ``kind`` is ``"all"``, ``"position"`` or ``"rotation"``."""
        allowed = {
            "all": POSITION_CHANNELS + ROTATION_CHANNELS,
            "position": POSITION_CHANNELS,
            "rotation": ROTATION_CHANNELS,
        }[kind]
        start = self.channel_start[joint]
        chans = self.joints[joint].channels
        return np.array([start + i for i, c in enumerate(chans) if c in allowed], dtype=np.intp)

    def with_motion(self, motion: npt.ArrayLike) -> Clip:
        """The same skeleton and timing with new channel values (same column layout)."""
        return replace(self, motion=np.asarray(motion, dtype=np.float64))


def _check_joints(joints: Sequence[Joint]) -> None:
    """Reject hierarchies the rest of the engine could not walk (parents must come first)."""
    if not joints:
        raise ValueError("a clip needs at least one joint")
    for index, joint in enumerate(joints):
        if not -1 <= joint.parent < index:
            raise ValueError(
                f"joint {joint.name!r} has parent {joint.parent}; parents must precede children"
            )
        unknown = [c for c in joint.channels if c not in _CANONICAL_CHANNEL.values()]
        if unknown:
            raise ValueError(f"joint {joint.name!r} has unknown channels {unknown}")


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Token:
    text: str
    line: int


def read_bvh(path: str | os.PathLike[str]) -> Clip:
    """Read a BVH file; errors name the file and, where useful, the line."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise BvhError(f"{path}: cannot read: {error.strerror or error}") from error
    return parse_bvh(data, source=str(path))


def parse_bvh(data: str | bytes, source: str = "<bvh>") -> Clip:
    """Parse BVH text (or its bytes) into a :class:`Clip`."""
    text = _decode(data, source)
    lines = text.splitlines()
    motion_line = _find_motion_line(lines, source)
    joints = _HierarchyParser(_tokens(lines[:motion_line]), source, motion_line).parse()
    frame_time, motion, decimals = _parse_motion(lines, motion_line, joints, source)
    return Clip(joints=tuple(joints), frame_time=frame_time, motion=motion, decimals=decimals)


def _decode(data: str | bytes, source: str) -> str:
    """Text from bytes; binary data is refused before it can produce a confusing parse error."""
    if isinstance(data, str):
        text = data
    else:
        if not data:
            raise BvhError(f"{source}: empty file (0 bytes)")
        if b"\x00" in data[:65536] or _control_bytes(data[:65536]):
            raise BvhError(f"{source}: not a text file (binary data)")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("latin-1")  # old exporters wrote joint names in 8-bit code pages
    if not text.strip():
        raise BvhError(f"{source}: empty file")
    return text.lstrip("\ufeff")


def _control_bytes(sample: bytes) -> bool:
    """True when the sample holds control bytes no text has (all below 32 but TAB LF VT FF CR)."""
    return any(b < 32 and b not in (9, 10, 11, 12, 13) for b in sample)


def _find_motion_line(lines: Sequence[str], source: str) -> int:
    for index, line in enumerate(lines):
        if line.strip().upper() == "MOTION":
            return index
    has_hierarchy = any(line.strip().upper() == "HIERARCHY" for line in lines[:50])
    if not has_hierarchy:
        raise BvhError(f"{source}: not a BVH file: no HIERARCHY header")
    raise BvhError(f"{source}: missing MOTION section (truncated file?)")


def _tokens(lines: Sequence[str]) -> Iterator[_Token]:
    """Hierarchy tokens; a ROOT/JOINT name is the rest of its line (names may contain spaces)."""
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        keyword, _, rest = line.partition(" ")
        if keyword.upper() in ("ROOT", "JOINT") and rest.strip():
            name = rest.strip()
            brace = name.endswith("{") and len(name) > 1
            yield _Token(keyword, number)
            yield _Token(name[:-1].strip() if brace else name, number)
            if brace:
                yield _Token("{", number)
            continue
        for word in line.split():
            yield _Token(word, number)


class _HierarchyParser:
    """Recursive descent over the HIERARCHY tokens (grammar as Blender's importer reads it)."""

    def __init__(self, tokens: Iterator[_Token], source: str, motion_line: int) -> None:
        self._tokens = list(tokens)
        self._pos = 0
        self._source = source
        self._end_line = motion_line + 1
        self._joints: list[Joint] = []

    def parse(self) -> list[Joint]:
        first = self._next("HIERARCHY")
        if first.text.upper() != "HIERARCHY":
            self._fail(first, f"not a BVH file: expected 'HIERARCHY', found {first.text!r}")
        if not self._at("ROOT"):
            self._fail(self._peek(), "HIERARCHY has no ROOT joint")
        while self._at("ROOT"):
            self._pos += 1
            self._joint(parent=-1)
        if self._pos < len(self._tokens):
            token = self._tokens[self._pos]
            if token.text == "}":
                self._fail(token, "unbalanced braces: '}' without a matching '{'")
            self._fail(token, f"unexpected {token.text!r} after the hierarchy")
        return self._joints

    def _joint(self, parent: int) -> None:
        name_token = self._next("a joint name")
        name = name_token.text
        if name == "{":
            self._fail(name_token, "joint without a name")
        if any(j.name == name for j in self._joints):
            self._fail(name_token, f"duplicate joint name {name!r}")
        open_token = self._expect("{")
        index = len(self._joints)
        self._joints.append(Joint(name, parent, (0.0, 0.0, 0.0), ()))
        offset: Vec3 | None = None
        channels: tuple[str, ...] | None = None
        end_site: Vec3 | None = None
        while True:
            token = self._next(f"'}}' closing joint {name!r}", opened=open_token)
            word = token.text.upper()
            if word == "}":
                break
            if word == "OFFSET":
                self._once(offset, token, name)
                offset = self._vec3(token)
            elif word == "CHANNELS":
                self._once(channels, token, name)
                channels = self._channels(token)
            elif word == "JOINT":
                self._joint(parent=index)
            elif word == "END":
                site = self._next("'Site'")
                if site.text.upper() != "SITE":
                    self._fail(site, f"expected 'End Site', found 'End {site.text}'")
                self._once(end_site, token, name)
                end_site = self._end_site()
            else:
                self._fail(token, f"unexpected {token.text!r} in joint {name!r}")
        if offset is None:
            self._fail(name_token, f"joint {name!r} has no OFFSET")
        self._joints[index] = Joint(name, parent, offset, channels or (), end_site)

    def _once(self, value: object, token: _Token, name: str) -> None:
        """Refuse a second OFFSET/CHANNELS/End Site in one joint instead of silently keeping one."""
        if value is not None:
            self._fail(token, f"joint {name!r} has a second {token.text}")

    def _end_site(self) -> Vec3:
        opened = self._expect("{")
        offset_token = self._expect("OFFSET")
        offset = self._vec3(offset_token)
        close = self._next("'}' closing End Site", opened=opened)
        if close.text != "}":
            self._fail(close, f"expected '}}' after the End Site OFFSET, found {close.text!r}")
        return offset

    def _vec3(self, keyword: _Token) -> Vec3:
        values = [self._number(self._next("a number", opened=keyword)) for _ in range(3)]
        return (values[0], values[1], values[2])

    def _channels(self, keyword: _Token) -> tuple[str, ...]:
        count_token = self._next("a channel count")
        if not count_token.text.isdigit():
            self._fail(
                count_token, f"expected a channel count after CHANNELS, found {count_token.text!r}"
            )
        names: list[str] = []
        for _ in range(int(count_token.text)):
            token = self._next("a channel name", opened=keyword)
            canonical = _CANONICAL_CHANNEL.get(token.text.lower())
            if canonical is None:
                self._fail(token, f"unknown channel name {token.text!r}")
            if canonical in names:
                self._fail(token, f"channel {canonical} listed twice")
            names.append(canonical)
        return tuple(names)

    def _number(self, token: _Token) -> float:
        try:
            value = float(token.text)
        except ValueError:
            self._fail(token, f"expected a number, found {token.text!r}")
        if not np.isfinite(value):
            self._fail(token, f"non-finite value {token.text!r}")
        return value

    def _expect(self, text: str) -> _Token:
        token = self._next(repr(text))
        if token.text.upper() != text.upper():
            self._fail(token, f"expected {text!r}, found {token.text!r}")
        return token

    def _at(self, text: str) -> bool:
        return self._pos < len(self._tokens) and self._tokens[self._pos].text.upper() == text

    def _peek(self) -> _Token:
        return (
            self._tokens[self._pos]
            if self._pos < len(self._tokens)
            else _Token("MOTION", self._end_line)
        )

    def _next(self, wanted: str, opened: _Token | None = None) -> _Token:
        if self._pos >= len(self._tokens):
            if opened is not None and opened.text == "{":
                raise BvhError(
                    f"{self._source}:{opened.line}: unbalanced braces: "
                    f"'{{' is never closed before MOTION (line {self._end_line})"
                )
            raise BvhError(f"{self._source}:{self._end_line}: expected {wanted} before MOTION")
        token = self._tokens[self._pos]
        self._pos += 1
        return token

    def _fail(self, token: _Token, message: str) -> NoReturn:
        raise BvhError(f"{self._source}:{token.line}: {message}")


_FRAMES = re.compile(r"^frames\s*:\s*(\S+)\s*$", re.IGNORECASE)
_FRAME_TIME = re.compile(r"^frame\s+time\s*:\s*(\S+)\s*$", re.IGNORECASE)


def _parse_motion(
    lines: Sequence[str], motion_line: int, joints: Sequence[Joint], source: str
) -> tuple[float, FloatArray, int | None]:
    """Frames, frame time and the value block after MOTION (line numbers are 1-based)."""
    header = [
        (n, line.strip()) for n, line in enumerate(lines[motion_line + 1 :], start=motion_line + 2)
    ]
    header = [(n, line) for n, line in header if line][:2]
    if len(header) < 2:
        raise BvhError(
            f"{source}:{motion_line + 1}: truncated file: MOTION needs 'Frames:' and 'Frame Time:'"
        )
    n_frames = _header_value(header[0], _FRAMES, "Frames:", source)
    frame_time = _header_value(header[1], _FRAME_TIME, "Frame Time:", source)
    if not n_frames.is_integer() or n_frames < 0:
        raise BvhError(
            f"{source}:{header[0][0]}: 'Frames:' must be a whole number, found {n_frames}"
        )
    if n_frames == 0:
        raise BvhError(f"{source}:{header[0][0]}: the clip has 0 frames")
    if not frame_time > 0:
        raise BvhError(
            f"{source}:{header[1][0]}: 'Frame Time:' must be positive, found {frame_time}"
        )
    body_start = header[1][0]  # 0-based index of the first line after 'Frame Time:'
    n_channels = sum(len(j.channels) for j in joints)
    rows = _frame_rows(lines, body_start, int(n_frames), n_channels, source)
    motion = _to_floats(rows, [f"{j.name}.{c}" for j in joints for c in j.channels], source)
    return frame_time, motion, _fixed_decimals(rows)


def _header_value(
    entry: tuple[int, str], pattern: re.Pattern[str], label: str, source: str
) -> float:
    number, line = entry
    match = pattern.match(line)
    if match is None:
        raise BvhError(f"{source}:{number}: expected '{label} <number>', found {line[:40]!r}")
    try:
        value = float(match.group(1))
    except ValueError:
        raise BvhError(
            f"{source}:{number}: '{label}' is not a number: {match.group(1)!r}"
        ) from None
    if not np.isfinite(value):
        raise BvhError(f"{source}:{number}: '{label}' is not finite: {match.group(1)!r}")
    return value


def _frame_rows(
    lines: Sequence[str], start: int, n_frames: int, n_channels: int, source: str
) -> list[tuple[int, list[str]]]:
    """Split frame lines into value strings, checking the count of lines and of values per line."""
    rows: list[tuple[int, list[str]]] = []
    for number, line in enumerate(lines[start:], start=start + 1):
        values = line.split()
        if not values:
            continue
        if len(rows) == n_frames:
            raise BvhError(f"{source}:{number}: more frame lines than 'Frames: {n_frames}'")
        if len(values) != n_channels:
            if len(values) < n_channels and _is_last_line(lines, number):
                raise BvhError(
                    f"{source}:{number}: truncated file: the last frame line has "
                    f"{len(values)} of {n_channels} values"
                )
            raise BvhError(
                f"{source}:{number}: frame {len(rows)} has {len(values)} values; "
                f"the hierarchy has {n_channels} channels"
            )
        rows.append((number, values))
    if len(rows) < n_frames:
        raise BvhError(
            f"{source}: truncated file: 'Frames: {n_frames}' but only {len(rows)} frame lines"
        )
    return rows


def _is_last_line(lines: Sequence[str], number: int) -> bool:
    """True when line ``number`` (1-based) is followed only by blank lines."""
    return not any(line.strip() for line in lines[number:])


def _to_floats(
    rows: Sequence[tuple[int, list[str]]], channel_names: Sequence[str], source: str
) -> FloatArray:
    flat = [value for _, values in rows for value in values]
    try:
        motion = np.array(flat, dtype=np.float64).reshape(len(rows), len(channel_names))
    except ValueError:
        for number, values in rows:
            for value in values:
                try:
                    float(value)
                except ValueError:
                    raise BvhError(
                        f"{source}:{number}: expected a number, found {value!r}"
                    ) from None
        raise
    bad = np.argwhere(~np.isfinite(motion))
    if bad.size:
        frame, column = (int(v) for v in bad[0])
        raise BvhError(
            f"{source}:{rows[frame][0]}: non-finite value {rows[frame][1][column]!r} "
            f"in frame {frame}, column {column} ({channel_names[column]})"
        )
    return motion


_FIXED = re.compile(r"-?\d+\.(\d+)")


def _fixed_decimals(rows: Sequence[tuple[int, list[str]]]) -> int | None:
    """The shared number of decimals when every value is plain fixed-point, else None."""
    first = _FIXED.fullmatch(rows[0][1][0])
    if first is None:
        return None
    decimals = len(first.group(1))
    pattern = re.compile(rf"-?\d+\.\d{{{decimals}}}")
    if all(pattern.fullmatch(v) for _, values in rows for v in values):
        return decimals
    return None


# ----------------------------------------------------------------------------- writing


def write_bvh(clip: Clip, path: str | os.PathLike[str]) -> None:
    """Write ``clip`` as BVH text (see :func:`format_bvh`)."""
    text = format_bvh(clip)
    try:
        Path(path).write_text(text, encoding="utf-8", newline="\n")
    except OSError as error:
        raise BvhError(f"{path}: cannot write: {error.strerror or error}") from error


def format_bvh(clip: Clip) -> str:
    """BVH text for ``clip``: tab-indented HIERARCHY, then MOTION with one line per frame."""
    if not np.all(np.isfinite(clip.motion)):
        raise BvhError("cannot write a clip with non-finite channel values")
    children: list[list[int]] = [[] for _ in clip.joints]
    for index, joint in enumerate(clip.joints):
        if joint.parent >= 0:
            children[joint.parent].append(index)
    out = ["HIERARCHY"]
    for index, joint in enumerate(clip.joints):
        if joint.parent < 0:
            _write_joint(clip.joints, children, index, 0, out)
    out += ["MOTION", f"Frames: {clip.n_frames}", f"Frame Time: {_shortest(clip.frame_time)}"]
    out += _format_rows(clip.motion, clip.decimals)
    return "\n".join(out) + "\n"


def _write_joint(
    joints: Sequence[Joint],
    children: Sequence[Sequence[int]],
    index: int,
    depth: int,
    out: list[str],
) -> None:
    joint = joints[index]
    pad = "\t" * depth
    out.append(f"{pad}{'ROOT' if joint.parent < 0 else 'JOINT'} {joint.name}")
    out.append(f"{pad}{{")
    out.append(f"{pad}\tOFFSET {_vec(joint.offset)}")
    out.append(f"{pad}\tCHANNELS {len(joint.channels)}" + "".join(f" {c}" for c in joint.channels))
    for child in children[index]:
        _write_joint(joints, children, child, depth + 1, out)
    if joint.end_site is not None:
        out += [
            f"{pad}\tEnd Site",
            f"{pad}\t{{",
            f"{pad}\t\tOFFSET {_vec(joint.end_site)}",
            f"{pad}\t}}",
        ]
    out.append(f"{pad}}}")


def _vec(values: Vec3) -> str:
    return " ".join(_shortest(v) for v in values)


def _shortest(value: float) -> str:
    """The shortest text that reads back as exactly ``value`` (``repr``), without a bare ``.0``."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _format_rows(motion: FloatArray, decimals: int | None) -> list[str]:
    if decimals is not None:
        row_format = " ".join([f"%.{decimals}f"] * motion.shape[1])
        return [row_format % tuple(row) for row in motion.tolist()]
    return [" ".join(map(_shortest, row)) for row in motion.tolist()]


def rig_record(clip: Clip) -> dict[str, object]:
    """The hierarchy of ``clip`` as JSON-ready data (no motion): a model's ``skeleton.json``."""
    return {
        "joints": [
            {
                "name": j.name,
                "parent": j.parent,
                "offset": list(j.offset),
                "channels": list(j.channels),
                "end_site": list(j.end_site) if j.end_site else None,
            }
            for j in clip.joints
        ]
    }


def rig_from_record(record: Mapping[str, Any], frame_time: float) -> Clip:
    """A one-frame clip, every channel zero, of a :func:`rig_record` hierarchy."""
    joints = tuple(
        Joint(
            j["name"],
            int(j["parent"]),
            tuple(j["offset"]),
            tuple(j["channels"]),
            tuple(j["end_site"]) if j.get("end_site") else None,
        )
        for j in record["joints"]
    )
    channels = sum(len(j.channels) for j in joints)
    return Clip(joints, frame_time, np.zeros((1, channels)))
