"""Reading BVH motion files faithfully into a :class:`~engine.media.motion.clip.Clip`.

Nothing is normalised on the way in: channel values stay as written, so a clip read
and written back (``engine.media.motion.bvh_writer``) gives the same numbers. The
number style is recorded too: a file whose MOTION values all have the same number of
decimals (``%.6f`` exporters) is marked with that many decimals, so the writer can use
them again; otherwise values are written as the shortest text that reads back to the
identical float, so ``-0``, ``93.9241`` and ``5.1072e-06`` come out as they went in.

Every malformed input raises :class:`BvhError` with a one-line message naming the
line where that helps. Sizes (joints, nesting depth, frames x channels, value
magnitudes) are bounded by :mod:`engine.media.motion.limits` before they cost memory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np

from engine.media.motion.clip import (
    POSITION_CHANNELS,
    ROTATION_CHANNELS,
    Clip,
    FloatArray,
    Joint,
    Vec3,
)
from engine.media.motion.limits import (
    MAX_ABS_VALUE,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_FRAME_TIME,
    MAX_JOINTS,
    MAX_MOTION_VALUES,
    MIN_FRAME_TIME,
)

_CANONICAL_CHANNEL = {name.lower(): name for name in POSITION_CHANNELS + ROTATION_CHANNELS}


class BvhError(ValueError):
    """A BVH text that cannot be read or a clip that cannot be written; the message is one line."""


@dataclass(frozen=True)
class _Token:
    text: str
    line: int


def read_bvh(path: str | os.PathLike[str]) -> Clip:
    """Read a BVH file; errors name the file and, where useful, the line."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_FILE_BYTES:
            raise BvhError(
                f"{path}: {size / 2**20:.0f} MiB is more than the "
                f"{MAX_FILE_BYTES // 2**20} MiB of BVH text remask reads (limits.MAX_FILE_BYTES)"
            )
        data = Path(path).read_bytes()
    except IsADirectoryError:
        raise BvhError(f"{path}: is a folder, not a BVH file") from None
    except OSError as error:
        raise BvhError(f"{path}: cannot read: {error.strerror or error}") from None
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
        self._depth = 0

    def parse(self) -> list[Joint]:
        first = self._next("HIERARCHY")
        if first.text.upper() != "HIERARCHY":
            self._fail(first, f"not a BVH file: expected 'HIERARCHY', found {first.text!r}")
        if not self._at("ROOT"):
            self._fail(self._peek(), "HIERARCHY has no ROOT joint")
        while self._at("ROOT"):
            self._pos += 1
            self._nested_joint(parent=-1)
        if self._pos < len(self._tokens):
            token = self._tokens[self._pos]
            if token.text == "}":
                self._fail(token, "unbalanced braces: '}' without a matching '{'")
            self._fail(token, f"unexpected {token.text!r} after the hierarchy")
        return self._joints

    def _nested_joint(self, parent: int) -> None:
        """One joint and its children, refused past :data:`MAX_DEPTH` levels before recursing."""
        self._depth += 1
        if self._depth > MAX_DEPTH:
            self._fail(
                self._peek(),
                f"joints nested more than {MAX_DEPTH} deep (limits.MAX_DEPTH; "
                "a human rig is under 30)",
            )
        self._joint(parent)
        self._depth -= 1

    def _joint(self, parent: int) -> None:
        name_token = self._next("a joint name")
        if len(self._joints) >= MAX_JOINTS:
            self._fail(name_token, f"more than {MAX_JOINTS} joints (limits.MAX_JOINTS)")
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
                self._nested_joint(parent=index)
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
        text = count_token.text
        if not (text.isascii() and text.isdigit() and int(text) <= len(_CANONICAL_CHANNEL)):
            self._fail(
                count_token,
                f"expected a channel count after CHANNELS (0..{len(_CANONICAL_CHANNEL)}), "
                f"found {text!r}",
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
        if abs(value) > MAX_ABS_VALUE:
            self._fail(token, f"value {token.text!r} is beyond ±{MAX_ABS_VALUE:g} ({_VALUE_WHY})")
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


_VALUE_WHY = "limits.MAX_ABS_VALUE: the model's float32 features would overflow"

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
    if not MIN_FRAME_TIME <= frame_time <= MAX_FRAME_TIME:
        raise BvhError(
            f"{source}:{header[1][0]}: 'Frame Time: {frame_time:g}' is outside "
            f"{MIN_FRAME_TIME:g}..{MAX_FRAME_TIME:g} s (limits.MIN_FRAME_TIME, MAX_FRAME_TIME)"
        )
    body_start = header[1][0]  # 0-based index of the first line after 'Frame Time:'
    n_channels = sum(len(j.channels) for j in joints)
    if n_frames * max(n_channels, 1) > MAX_MOTION_VALUES:
        raise BvhError(
            f"{source}:{header[0][0]}: {n_frames:.0f} frames x {n_channels} channels is more "
            f"than the {MAX_MOTION_VALUES:,} values remask reads (limits.MAX_MOTION_VALUES)"
        )
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
    bad = np.argwhere(~(np.abs(motion) <= MAX_ABS_VALUE))
    if bad.size:
        frame, column = (int(v) for v in bad[0])
        value = rows[frame][1][column]
        problem = (
            f"value {value!r} is beyond ±{MAX_ABS_VALUE:g} ({_VALUE_WHY})"
            if np.isfinite(motion[frame, column])
            else f"non-finite value {value!r}"
        )
        raise BvhError(
            f"{source}:{rows[frame][0]}: {problem} "
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
