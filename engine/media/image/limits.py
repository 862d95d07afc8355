"""How large an image remask decodes, decided from the file's header before any pixel is decoded.

A small compressed file can hold a huge image (a 630-KB PNG of 9000 x 9000 16-bit
pixels). Decoding costs memory per pixel: an 8-bit image about 10 bytes a pixel
(Pillow's buffer, our RGB and alpha planes, the canvas), a 16-bit colour image about
50 (two decoding passes of 16-bit samples kept beside the 8-bit view). The limits
keep either kind near 1 GB.
"""

from __future__ import annotations

MAX_PIXELS = 100_000_000
"""Largest 8-bit image (100 megapixels), about 1 GB while decoding."""

MAX_PIXELS_16BIT = 25_000_000
"""Largest 16-bit image (25 megapixels): 16-bit samples take several times the memory."""
