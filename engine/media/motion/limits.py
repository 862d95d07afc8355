"""How large a BVH file remask reads: each limit is checked before the memory it bounds is used.

A few bytes of BVH text can describe a skeleton nested thousands of joints deep
(the recursive parser and every joint walk after it would overflow the stack),
or a header claiming billions of frames. These limits refuse such files with a
message naming the limit, long before they could cost time or memory. Each is
far above any real motion-capture take: mocap rigs have tens to a few hundred
joints, nested at most a few dozen deep.
"""

from __future__ import annotations

MAX_FILE_BYTES = 512 * 1024 * 1024
"""Largest BVH file read (512 MiB of text, about 50 million values): checked before reading."""

MAX_JOINTS = 1024
"""Most joints (ROOT and JOINT entries) in one hierarchy; finger-rich rigs have about 200."""

MAX_DEPTH = 128
"""Deepest nesting of joints; a human rig is under 30 deep, and deeper ones overflow the stack."""

MAX_MOTION_VALUES = 40_000_000
"""Most frames x channels in one clip (320 MB as float64): checked from the header's 'Frames:'."""

MAX_ABS_VALUE = 1e7
"""Largest magnitude of an OFFSET or channel value. Centimetres, millimetres and unwrapped
degrees all stay far below it; beyond it, the float32 features the model reads overflow."""

MIN_FRAME_TIME, MAX_FRAME_TIME = 1e-4, 60.0
"""Accepted 'Frame Time:' in seconds (10,000 down to 1/60 frames a second): mocap runs at
24-480 fps; outside this range playback timers and frame-rate conversions misbehave."""
