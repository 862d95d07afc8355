"""The bad-input corpus, generated: hundreds of damaged, abusive or odd files of every medium.

Each :class:`Case` is file bytes plus the medium that opens them. ``must_fail``
marks cases that must be refused (a bomb, a limit crossed); the rest may open or
be refused, but either way cleanly (see ``test_engine_inputs``). Everything is
derived from small valid seeds by fixed rules and seeded random bit flips, so a
failing case has a stable id and can be rebuilt.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tests.engine.midi.midi_files import chorale, midi_bytes
from tests.engine.motion.synthetic_bvh import bandai_like, cmu_like

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_MIDI = ROOT / "assets" / "samples" / "chorale.mid"


@dataclass(frozen=True)
class Case:
    """One input file: ``medium`` is ``"image"``, ``"midi"`` or ``"motion"``."""

    id: str
    medium: str
    data: bytes
    must_fail: bool = False

    @property
    def suffix(self) -> str:
        return {"image": ".png", "midi": ".mid", "motion": ".bvh"}[self.medium]


# --------------------------------------------------------------------------- mutations


def truncations(data: bytes, count: int = 10) -> Iterator[tuple[str, bytes]]:
    """``data`` cut at ``count`` offsets spread over the file, including the very start and end."""
    offsets = sorted({1, 4, 8, 13, *np.linspace(0, len(data) - 1, count, dtype=int).tolist()})
    for offset in offsets:
        if 0 < offset < len(data):
            yield f"cut{offset}", data[:offset]


def bit_flips(data: bytes, count: int = 10, seed: int = 0) -> Iterator[tuple[str, bytes]]:
    """``count`` copies of ``data``, each with 1 to 8 random bits flipped (seeded)."""
    rng = random.Random(seed)
    for index in range(count):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            position = rng.randrange(len(damaged))
            damaged[position] ^= 1 << rng.randrange(8)
        yield f"flip{index}", bytes(damaged)


def generic(prefix: str, medium: str, data: bytes, seed: int) -> Iterator[Case]:
    """Truncations and bit flips of one valid seed file."""
    for name, damaged in truncations(data):
        yield Case(f"{prefix}-{name}", medium, damaged)
    for name, damaged in bit_flips(data, seed=seed):
        yield Case(f"{prefix}-{name}", medium, damaged)


def empty_and_garbage(medium: str) -> Iterator[Case]:
    yield Case(f"{medium}-empty", medium, b"", must_fail=True)
    yield Case(f"{medium}-nul", medium, b"\x00" * 64, must_fail=True)
    yield Case(f"{medium}-random", medium, random.Random(7).randbytes(512), must_fail=True)
    yield Case(f"{medium}-text", medium, b"hello, world\n", must_fail=True)


# --------------------------------------------------------------------------- images


def pil_bytes(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bytes(width: int, height: int, bit_depth: int, color_type: int, idat: bytes) -> bytes:
    """A PNG written by hand, so headers can claim anything (bombs, odd depths)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def _gradient(height: int = 12, width: int = 16, channels: int = 3) -> np.ndarray:
    rows = np.arange(height * width * channels, dtype=np.uint32).reshape(height, width, channels)
    return (rows * 7 % 256).astype(np.uint8)


def image_seeds() -> dict[str, bytes]:
    """Small valid images in every mode and format remask opens."""
    rgb = Image.fromarray(_gradient())
    rgba = Image.fromarray(_gradient(channels=4))
    gray = Image.fromarray(_gradient(channels=1)[:, :, 0])
    gray16 = Image.fromarray(_gradient(channels=1)[:, :, 0].astype(np.uint16) * 257)
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.info["transparency"] = 0
    rgb16_rows = b"".join(
        b"\x00" + bytes(int(v) for v in _gradient(4, 6, 6)[y].reshape(-1)) for y in range(4)
    )
    frames = [rgb, rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    return {
        "png-rgb": pil_bytes(rgb),
        "png-rgba": pil_bytes(rgba),
        "png-l": pil_bytes(gray),
        "png-la": pil_bytes(Image.fromarray(_gradient(channels=2), "LA")),
        "png-1bit": pil_bytes(gray.convert("1")),
        "png-p": pil_bytes(palette, transparency=0),
        "png-i16": pil_bytes(gray16),
        "png-rgb16": png_bytes(6, 4, 16, 2, zlib.compress(rgb16_rows)),
        "jpeg-rgb": pil_bytes(rgb, "JPEG"),
        "jpeg-cmyk": pil_bytes(rgb.convert("CMYK"), "JPEG"),
        "jpeg-gray": pil_bytes(gray, "JPEG"),
        "webp": pil_bytes(rgb, "WEBP", lossless=True),
        "bmp": pil_bytes(rgb, "BMP"),
        "tiff-rgb": pil_bytes(rgb, "TIFF"),
        "tiff-float": pil_bytes(gray.convert("F"), "TIFF"),
        "tiff-int32": pil_bytes(Image.fromarray(np.full((4, 4), 1 << 20, dtype=np.int32)), "TIFF"),
        "gif-anim": pil_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        "png-1x1": pil_bytes(Image.new("RGB", (1, 1), (9, 8, 7))),
    }


def image_bombs() -> Iterator[Case]:
    """Headers that claim huge images over a few bytes of data: refused from the header."""
    tiny = zlib.compress(b"\x00" * 64)
    claims = {
        "bomb-png-60000sq": (60000, 60000, 8, 2),
        "bomb-png-16bit-9000sq": (9000, 9000, 16, 0),
        "bomb-png-16bit-rgb-6000sq": (6000, 6000, 16, 2),
        "bomb-png-1x200M": (1, 200_000_000, 8, 0),
        "bomb-png-wide": (2**31 - 1, 1, 8, 0),
    }
    for name, (width, height, depth, color) in claims.items():
        yield Case(name, "image", png_bytes(width, height, depth, color, tiny), must_fail=True)
    yield Case("bomb-png-zero-width", "image", png_bytes(0, 10, 8, 0, tiny), must_fail=True)
    gif = bytearray(pil_bytes(Image.new("P", (2, 2)), "GIF"))
    gif[6:10] = struct.pack("<HH", 65535, 65535)  # logical screen
    yield Case("bomb-gif-screen", "image", bytes(gif))
    bmp = bytearray(pil_bytes(Image.new("RGB", (2, 2)), "BMP"))
    bmp[18:26] = struct.pack("<ii", 50000, 50000)
    yield Case("bomb-bmp-50000sq", "image", bytes(bmp), must_fail=True)


def image_cases() -> Iterator[Case]:
    yield from empty_and_garbage("image")
    for index, (name, data) in enumerate(image_seeds().items()):
        yield Case(f"{name}-valid", "image", data)
        yield from generic(name, "image", data, seed=index)
    yield from image_bombs()


# --------------------------------------------------------------------------- MIDI


def vlq(value: int) -> bytes:
    """A MIDI variable-length quantity (no limit on the byte count, for abuse)."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def smf(
    *tracks: bytes, fmt: int = 0, count: int | None = None, division: int = 96, head: int = 6
) -> bytes:
    """A Standard MIDI File from raw track bodies (event bytes, end-of-track not added)."""
    header = struct.pack(">HHH", fmt, len(tracks) if count is None else count, division)
    body = b"".join(b"MTrk" + struct.pack(">I", len(t)) + t for t in tracks)
    return b"MThd" + struct.pack(">I", head) + header[:head].ljust(head, b"\x00") + body


NOTE = b"\x00\x90\x3c\x40\x60\x80\x3c\x00"
END = b"\x00\xff\x2f\x00"


def midi_abuse() -> dict[str, tuple[bytes, bool]]:
    """Chunk, delta and meta abuse, each with whether it must be refused."""
    cases: dict[str, tuple[bytes, bool]] = {
        "long-note-2^28": (smf(b"\x00\x90\x3c\x40" + vlq(2**28 - 1) + b"\x80\x3c\x00" + END), True),
        "many-long-deltas": (smf(NOTE + (vlq(2**27) + b"\xff\x01\x00") * 8 + END), True),
        "vlq-5-bytes": (smf(b"\x8f\xff\xff\xff\x7f\x90\x3c\x40" + NOTE + END), False),
        "key-sig-9-sharps": (smf(b"\x00\xff\x59\x02\x09\x00" + NOTE + END), True),
        "key-sig-mode-5": (smf(b"\x00\xff\x59\x02\x00\x05" + NOTE + END), False),
        "tempo-zero": (smf(b"\x00\xff\x51\x03\x00\x00\x00" + NOTE + END), True),
        "tempo-max": (smf(b"\x00\xff\x51\x03\xff\xff\xff" + NOTE + END), True),
        "tempo-short": (smf(b"\x00\xff\x51\x02\x07\xa1" + NOTE + END), False),
        "time-sig-denominator-2^255": (
            smf(b"\x00\xff\x58\x04\x04\xff\x18\x08" + NOTE + END),
            False,
        ),
        "time-sig-zero": (smf(b"\x00\xff\x58\x04\x00\x00\x18\x08" + NOTE + END), False),
        "meta-length-huge": (smf(b"\x00\xff\x01" + vlq(2**27) + b"abc"), True),
        "text-bad-utf8": (smf(b"\x00\xff\x03\x04\xff\xfe\x80\x81" + NOTE + END), False),
        "sysex-unterminated": (smf(b"\x00\xf0\x05\x01\x02" + NOTE + END), False),
        "sysex-huge": (smf(b"\x00\xf0" + vlq(2**26) + b"\x01"), True),
        "running-status-first": (smf(b"\x00\x3c\x40" + NOTE + END), True),
        "data-byte-200": (smf(b"\x00\x90\xc8\x40\x60\x80\x3c\x00" + END), False),
        "no-end-of-track": (smf(NOTE), False),
        "events-after-end": (smf(NOTE + END + NOTE), False),
        "note-never-off": (smf(b"\x00\x90\x3c\x40\x60\xff\x2f\x00"), False),
        "only-drums": (smf(b"\x00\x99\x24\x40\x60\x89\x24\x00" + END), True),
        "no-notes": (smf(b"\x00\xff\x03\x01a" + END), True),
        "format-2": (smf(NOTE + END, fmt=2), True),
        "format-3": (smf(NOTE + END, fmt=3), True),
        "format-65535": (smf(NOTE + END, fmt=65535), True),
        "format-0-two-tracks": (smf(NOTE + END, NOTE + END, fmt=0), False),
        "division-zero": (smf(NOTE + END, division=0), True),
        "division-smpte": (smf(NOTE + END, division=0xE728), True),
        "division-1": (smf(NOTE + END, division=1), False),
        "track-count-0": (smf(NOTE + END, count=0), False),
        "track-count-1000": (smf(NOTE + END, count=1000), False),
        "header-length-0": (smf(NOTE + END, head=0), True),
        "header-length-5": (smf(NOTE + END, head=5), True),
        "header-length-100": (smf(NOTE + END, head=100), False),
        "no-tracks": (smf(), True),
        "mthd-only": (b"MThd", True),
        "unknown-chunk": (
            smf(NOTE + END)[:14] + b"XXXX\x00\x00\x00\x02ab" + smf(NOTE + END)[14:],
            False,
        ),
        "chunk-length-huge": (
            smf(NOTE + END)[:18] + b"\xff\xff\xff\xff" + smf(NOTE + END)[22:],
            True,
        ),
        "chunk-length-short": (
            smf(NOTE + END)[:18] + b"\x00\x00\x00\x03" + smf(NOTE + END)[22:],
            False,
        ),
        "trailing-garbage": (smf(NOTE + END) + b"\x00garbage" * 8, False),
        "riff-wrapped": (b"RIFF\x20\x00\x00\x00RMIDdata" + smf(NOTE + END), True),
    }
    return cases


def midi_cases() -> Iterator[Case]:
    yield from empty_and_garbage("midi")
    seeds = {
        "midi-sample": SAMPLE_MIDI.read_bytes(),
        "midi-type0": midi_bytes(chorale(0, bars=2)),
        "midi-type1": midi_bytes(chorale(1, bars=2)),
    }
    for index, (name, data) in enumerate(seeds.items()):
        yield Case(f"{name}-valid", "midi", data)
        yield from generic(name, "midi", data, seed=100 + index)
    for name, (data, must_fail) in midi_abuse().items():
        yield Case(f"midi-{name}", "midi", data, must_fail)


# --------------------------------------------------------------------------- BVH

BVH_HEAD = (
    "HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 0\n"
    "  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n"
)


def nested_bvh(depth: int) -> str:
    """A chain of ``depth`` joints, each inside the last: what overflowed the recursive parser."""
    joints = "".join(f"JOINT j{i}\n{{\nOFFSET 0 1 0\nCHANNELS 1 Xrotation\n" for i in range(depth))
    channels = 6 + depth
    return (
        BVH_HEAD
        + joints
        + "}\n" * depth
        + "}\nMOTION\nFrames: 1\nFrame Time: 0.0333\n"
        + " ".join(["0"] * channels)
        + "\n"
    )


def flat_bvh(joints: int) -> str:
    body = "".join(
        f"JOINT j{i}\n{{\nOFFSET 0 1 0\nCHANNELS 1 Xrotation\n}}\n" for i in range(joints)
    )
    return (
        BVH_HEAD
        + body
        + "}\nMOTION\nFrames: 1\nFrame Time: 0.0333\n"
        + " ".join(["0"] * (6 + joints))
        + "\n"
    )


def _replace_value(text: str, value: str, line_after_time: int = 2) -> str:
    """``text`` with the first value of a frame line replaced."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Frame Time"))
    row = lines[start + line_after_time].split()
    row[3] = value
    lines[start + line_after_time] = " ".join(row)
    return "\n".join(lines) + "\n"


def _header(text: str, label: str, value: str) -> str:
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(label))
    lines[index] = f"{label} {value}"
    return "\n".join(lines) + "\n"


def bvh_abuse(seed: str) -> dict[str, tuple[str | bytes, bool]]:
    """Structure, value and encoding abuse of one valid clip, with whether each must fail."""
    first_channels = seed.index("CHANNELS ") + len("CHANNELS ")
    count = seed[first_channels]

    def channels(text: str) -> str:
        return seed[:first_channels] + text + seed[first_channels + 1 :]

    cases: dict[str, tuple[str | bytes, bool]] = {
        "deep-3000": (nested_bvh(3000), True),
        "deep-200": (nested_bvh(200), True),
        "deep-100": (nested_bvh(100), False),
        "joints-5000": (flat_bvh(5000), True),
        "joints-500": (flat_bvh(500), False),
        "channels-superscript-3": (channels("\u00b3"), True),
        "channels-arabic-3": (channels("\u0663"), True),
        "channels-fullwidth-6": (channels("\uff16"), True),
        "channels-7": (channels("7"), True),
        "channels-huge": (channels("99999999999999999999"), True),
        "channels-negative": (channels("-" + count), True),
        "value-1e308": (_replace_value(seed, "1e308"), True),
        "value-inf": (_replace_value(seed, "inf"), True),
        "value-nan": (_replace_value(seed, "nan"), True),
        "value-1e400": (_replace_value(seed, "1e400"), True),
        "value-1e8": (_replace_value(seed, "1e8"), True),
        "value-denormal": (_replace_value(seed, "1e-320"), False),
        "value-hex": (_replace_value(seed, "0x10"), True),
        "value-comma": (_replace_value(seed, "1,5"), True),
        "value-underscore": (_replace_value(seed, "1_000"), False),
        "offset-1e308": (seed.replace("OFFSET 0", "OFFSET 1e308", 1), True),
        "frames-negative": (_header(seed, "Frames:", "-1"), True),
        "frames-zero": (_header(seed, "Frames:", "0"), True),
        "frames-fraction": (_header(seed, "Frames:", "2.5"), True),
        "frames-1e12": (_header(seed, "Frames:", "1e12"), True),
        "frames-huge-int": (_header(seed, "Frames:", "9" * 40), True),
        "frames-word": (_header(seed, "Frames:", "many"), True),
        "frames-too-few": (_header(seed, "Frames:", "3"), True),
        "frames-too-many": (_header(seed, "Frames:", "300"), True),
        "frame-time-zero": (_header(seed, "Frame Time:", "0"), True),
        "frame-time-negative": (_header(seed, "Frame Time:", "-0.03"), True),
        "frame-time-nan": (_header(seed, "Frame Time:", "nan"), True),
        "frame-time-tiny": (_header(seed, "Frame Time:", "1e-300"), True),
        "frame-time-huge": (_header(seed, "Frame Time:", "1e300"), True),
        "no-root": (seed.replace("ROOT", "BONE", 1), True),
        "no-hierarchy": (seed.replace("HIERARCHY", "", 1), True),
        "no-motion": (seed.split("MOTION")[0], True),
        "extra-brace": (seed.replace("MOTION", "}\nMOTION", 1), True),
        "missing-brace": (seed.replace("}\nMOTION", "MOTION", 1), True),
        "duplicate-joint": (
            seed.replace("JOINT ", "JOINT Hips_dup\n{\nOFFSET 0 0 0\n}\nJOINT ", 1),
            False,
        ),
        "crlf": (seed.replace("\n", "\r\n"), False),
        "cr-only": (seed.replace("\n", "\r"), False),
        "tabs": (seed.replace(" ", "\t"), False),
        "utf8-bom": (b"\xef\xbb\xbf" + seed.encode(), False),
        "utf16": (seed.encode("utf-16"), True),
        "latin1-name": (seed.replace("JOINT ", "JOINT \xe9", 1).encode("latin-1"), False),
        "nul-byte": (seed.replace("MOTION", "MOTION\x00", 1), True),
        "escape-in-name": (seed.replace("JOINT ", "JOINT \x1b[31m", 1), True),
        "long-line": (seed.replace("MOTION", "# " + "x" * 200_000 + "\nMOTION", 1), True),
        "extra-values": (_replace_value(seed, "0 0"), True),
    }
    return cases


def bvh_cases() -> Iterator[Case]:
    yield from empty_and_garbage("motion")
    seeds = {"bvh-bandai": bandai_like(16), "bvh-cmu": cmu_like(12)}
    for index, (name, text) in enumerate(seeds.items()):
        data = text.encode()
        yield Case(f"{name}-valid", "motion", data)
        yield from generic(name, "motion", data, seed=200 + index)
    for name, (content, must_fail) in bvh_abuse(seeds["bvh-bandai"]).items():
        data = content.encode() if isinstance(content, str) else content
        yield Case(f"bvh-{name}", "motion", data, must_fail)


# --------------------------------------------------------------------------- all

GENERATORS: dict[str, Callable[[], Iterator[Case]]] = {
    "image": image_cases,
    "midi": midi_cases,
    "motion": bvh_cases,
}


def all_cases() -> list[Case]:
    """Every generated case, ids unique."""
    cases = [case for generate in GENERATORS.values() for case in generate()]
    ids = [case.id for case in cases]
    duplicates = {i for i in ids if ids.count(i) > 1}
    assert not duplicates, duplicates
    return cases
