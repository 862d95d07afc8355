"""Rotation curves of one joint over time, with the playhead and the masked range.

A joint picker above a pyqtgraph plot: one curve per rotation channel of the
chosen joint (X red, Y green, Z blue, in the joint's own channel order and
degrees, as the BVH stores them). When a preview or a variation is playing
its curves are drawn solid and the document's dashed beneath, so the change a
generation made is visible at a glance; the masked frames are shaded.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.media.motion.clip import Clip

AXIS_COLORS = {"X": (235, 87, 87), "Y": (110, 200, 90), "Z": (80, 150, 240)}
_MASK_BRUSH = (240, 138, 36, 45)


class MotionCurves(QWidget):
    """Joint combobox + rotation-channel plot; shows state, writes nothing."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.joint_box = QComboBox()
        self.joint_box.setToolTip("Joint whose rotation channels are plotted")
        self.plot = pg.PlotWidget()
        self.plot.setLabel("left", "rotation (°)")
        self.plot.setLabel("bottom", "frame")
        self.playhead = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen((255, 77, 77), width=2))
        self.region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(*_MASK_BRUSH))
        self.region.setZValue(-10)
        self.region.setVisible(False)
        self.plot.addItem(self.playhead, ignoreBounds=True)
        self.plot.addItem(self.region, ignoreBounds=True)
        self.curves: list[pg.PlotDataItem] = []
        self._document_clip: Clip | None = None
        self._shown_clip: Clip | None = None
        self.joint_box.currentIndexChanged.connect(lambda _i: self._redraw())
        self.key = QLabel()
        self.key.setToolTip("Rotation channels in degrees; dashed: the document under a preview")
        top = QHBoxLayout()
        top.addWidget(self.joint_box, 1)
        top.addWidget(self.key)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.plot, 1)

    @property
    def joint(self) -> int:
        """The selected joint's index in the clip (-1 when none)."""
        return int(self.joint_box.currentIndex())

    def set_clips(self, document: Clip, shown: Clip | None = None) -> None:
        """The document's clip and, when different, the preview or variation being played."""
        names_changed = self._document_clip is None or self._document_clip.names != document.names
        self._document_clip, self._shown_clip = document, shown
        if names_changed:
            self._fill_joints(document)
        self._redraw()

    def set_playhead(self, frame: int) -> None:
        self.playhead.setValue(frame)

    def set_mask_range(self, span: tuple[int, int] | None) -> None:
        """Shade frames ``first..last`` (inclusive), or hide the shading."""
        self.region.setVisible(span is not None)
        if span is not None:
            self.region.setRegion((span[0] - 0.5, span[1] + 0.5))

    def _fill_joints(self, clip: Clip) -> None:
        rotating = [j for j, joint in enumerate(clip.joints) if joint.rotation_order]
        self.joint_box.blockSignals(True)
        self.joint_box.clear()
        for index, joint in enumerate(clip.joints):
            self.joint_box.addItem(joint.name, index)
        default = next(
            (j for j in rotating if clip.parents[j] >= 0), rotating[0] if rotating else 0
        )
        self.joint_box.setCurrentIndex(default)
        self.joint_box.blockSignals(False)

    def _redraw(self) -> None:
        for curve in self.curves:
            self.plot.removeItem(curve)
        self.curves = []
        clip, joint = self._document_clip, self.joint
        if clip is None or joint < 0:
            return
        shown = self._shown_clip
        if shown is not None:
            self._add_curves(clip, joint, Qt.PenStyle.DashLine, alpha=120)
        self._add_curves(shown or clip, joint, Qt.PenStyle.SolidLine, alpha=255)
        self._fill_key(clip.joints[joint].rotation_order)

    def _fill_key(self, order: str) -> None:
        """Coloured axis names beside the picker: a legend that never covers a curve."""
        spans = [f'<span style="color: rgb{AXIS_COLORS[axis]}">■ {axis}</span>' for axis in order]
        self.key.setText("&nbsp;&nbsp;".join(spans) + ("" if order else "no rotation channels"))

    def _add_curves(self, clip: Clip, joint: int, style: Qt.PenStyle, *, alpha: int) -> None:
        frames = np.arange(clip.n_frames)
        columns = clip.channel_columns(joint, "rotation")
        for axis, column in zip(clip.joints[joint].rotation_order, columns, strict=True):
            pen = pg.mkPen((*AXIS_COLORS[axis], alpha), width=1.5, style=style)
            curve = self.plot.plot(frames, clip.motion[:, column], pen=pen)
            self.curves.append(curve)
