"""Small pieces of the Image page: picture conversions for the canvas and the strip, dialogs."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QSpinBox, QWidget

from engine.media.image.files import LoadedImage

THUMBNAIL = 96


def rgba_of(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """uint8 [H, W, 4] for the canvas (opaque when the picture has no alpha)."""
    opaque = np.full(rgb.shape[:2], 255, dtype=np.uint8) if alpha is None else alpha
    return np.ascontiguousarray(np.concatenate([rgb, opaque[:, :, None]], axis=2))


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
