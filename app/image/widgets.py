"""Small pieces of the Image page: picture conversions for the canvas and the strip, dialogs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QSpinBox, QWidget

from engine.media.image.document import ImageDocument
from engine.media.image.files import LoadedImage
from engine.media.image.mask import Box, bounding_box

RGBA = npt.NDArray[np.uint8]

THUMBNAIL = 96


def rgba_of(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """uint8 [H, W, 4] for the canvas (opaque when the picture has no alpha).

    Written into one new array, not concatenated: on a 4096² picture that is
    about half the time (no temporary alpha plane, one pass per channel group).
    """
    rgba = np.empty((*rgb.shape[:2], 4), dtype=np.uint8)
    rgba[:, :, :3] = rgb
    rgba[:, :, 3] = 255 if alpha is None else alpha
    return rgba


@dataclass(frozen=True)
class ShownImage:
    """A document with the canvas arrays that show it, built off the GUI thread on open.

    Converting a large picture to RGBA takes a tenth of a second or more per
    4096²; done in the loading worker, the GUI thread only hands the arrays to
    the canvas. ``overlay`` already carries the document's mask (in ``colour``)
    inside ``mask_box``.
    """

    document: ImageDocument
    picture: RGBA
    overlay: RGBA
    mask_box: Box | None

    @classmethod
    def of(cls, document: ImageDocument, colour: tuple[int, ...]) -> ShownImage:
        image = document.image
        picture = rgba_of(image.rgb, image.alpha)
        overlay = np.zeros_like(picture)
        box = bounding_box(document.mask)
        if box is not None:
            paint_mask(overlay, document.mask, box[0], box[1], colour)
        return cls(document, picture, overlay, box)


def paint_mask(
    overlay: np.ndarray, mask: np.ndarray, rows: slice, cols: slice, rgba: tuple[int, ...]
) -> None:
    """Write the mask overlay's ``rows`` x ``cols``: ``rgba`` on masked pixels, clear elsewhere."""
    overlay[rows, cols] = 0
    overlay[rows, cols][mask[rows, cols]] = rgba


def thumbnail(image: LoadedImage) -> QPixmap:
    rgba = rgba_of(image.rgb, image.alpha)
    height, width = rgba.shape[:2]
    qimage = QImage(rgba.data, width, height, width * 4, QImage.Format.Format_RGBA8888).copy()
    scaled = qimage.scaled(
        THUMBNAIL,
        THUMBNAIL,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )
    return QPixmap.fromImage(scaled)


class ExtendDialog(QDialog):
    """Margins (pixels) for "Extend canvas…" (outpainting)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Extend canvas")
        self.margins = {side: QSpinBox() for side in ("left", "top", "right", "bottom")}
        form = QFormLayout(self)
        for side, spin in self.margins.items():
            spin.setRange(0, 4096)
            spin.setValue(64 if side in ("left", "right") else 0)
            spin.setSuffix(" px")
            form.addRow(side.capitalize(), spin)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> tuple[int, int, int, int]:
        left, top, right, bottom = (
            self.margins[s].value() for s in ("left", "top", "right", "bottom")
        )
        return left, top, right, bottom
