"""The Motion page: 3D skeleton, playback, part timeline, joint curves, generation, variations.

:class:`MotionEditor` implements :class:`app.editor_base.MediumEditor` for the
"motion" medium and holds no motion state of its own: the clip, the mask and
the history live in :class:`engine.media.motion.document.MotionDocument`. It
wires these pieces together:

* :class:`app.motion.viewport.MotionViewport` - the pose of the current frame;
  "Frame all" (F) fits the camera to the skeleton over the whole clip;
* :class:`app.motion.timeline.MotionTimeline` - ruler, part rows, mask strokes;
  its zoom (Ctrl+wheel, Ctrl+= / Ctrl+-, "Fit" Ctrl+0) is view state only;
* :class:`app.motion.curves.MotionCurves` - a joint's rotation channels;
* :class:`app.variations.VariationsStrip` - audition, accept or discard results.

What plays is a *sequence*: the document, the live preview of a running
generation, or a variation being auditioned. Poses are computed once per
sequence (forward kinematics over all frames), so playback is array slicing.
Previews and variations never touch the document; accepting one variation is
one undo step.

Generation goes through a :class:`~engine.jobs.MediumCodec` made by
``codec_factory(manifest)`` for a :class:`~engine.media.motion.document.MotionPayload`.
Its ``decode`` returns full-length clips composited with the original (bit-exact
outside the range); an optional ``preview(payload, tokens, still_masked)``
returns a clip for one sampler step (the live preview).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QElapsedTimer, Qt, QTimer
from PySide6.QtGui import QAction, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.editor_base import DocumentHistory
from app.motion.clips import (
    CodecFactory,
    as_clip,
    default_codec,
    pose_thumbnail,
    preview_clip,
)
from app.motion.curves import MotionCurves
from app.motion.new_clip import NewClipEditor
from app.motion.timeline import ZOOM_STEP, MotionTimeline
from app.motion.viewport import MotionViewport, SkeletonPoints, skeleton_points
from app.shortcuts import bind
from app.status_line import ElidedLabel
from app.variations import VariationsStrip
from engine.document import DocumentChanged
from engine.jobs import GenerateResult, MediumCodec, Progress
from engine.media.motion.clip import Clip
from engine.media.motion.document import MotionDocument, MotionPayload
from engine.media.motion.project import MotionVariations
from engine.models import ModelManifest
from engine.project_variations import KeptVariations

_log = logging.getLogger(__name__)

_PREROLL_FRAMES = 15
"""Auditioning a variation starts this many frames before the edit, to see the transition."""
CURVES_PLAYHEAD_MS = 100
"""While playing, the curves' playhead moves at most this often (the skeleton every frame)."""


class MotionEditor(DocumentHistory, NewClipEditor):
    """Open a BVH, paint frames per body part, generate, audition, accept, export."""

    medium = "motion"
    file_extensions = (".bvh",)
    export_extensions = (".bvh",)

    def __init__(
        self,
        parent: QWidget | None = None,
        codec_factory: CodecFactory | None = None,
        use_gl: bool | None = None,
    ) -> None:
        super().__init__(parent)
        self.codec_factory: CodecFactory = codec_factory or default_codec
        self.document: MotionDocument | None = None
        self.path: Path | None = None
        self.viewport = MotionViewport(use_gl=use_gl)
        self.timeline = MotionTimeline()
        self.curves = MotionCurves()
        self.strip = VariationsStrip()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.frame_label = QLabel()
        self.status = ElidedLabel()
        self.toolbar = QToolBar()
        self.new_clip_button: QPushButton | None = None
        self.frame = 0
        self.showing = "document"
        """What plays: "document", "preview" or "variation"."""
        self.preview_updates = 0
        self._sequence_clip: Clip | None = None
        self._job: tuple[MotionPayload, MediumCodec] | None = None
        self._offer: MotionVariations | None = None
        """The variations on offer and the request they answer (kept by a project file)."""
        self._timer = QTimer(self)
        self._clock = QElapsedTimer()
        self._play_origin = 0
        self._curves_moved_ms = -CURVES_PLAYHEAD_MS
        self._build()

    # -- construction ---------------------------------------------------------------------

    def _build(self) -> None:
        self._build_toolbar()
        self._timer.timeout.connect(self._tick)
        self.slider.valueChanged.connect(self.set_frame)
        self.timeline.frameRequested.connect(self.set_frame)
        self.timeline.strokeFinished.connect(self.stateChanged.emit)
        self.strip.selected.connect(self.audition)
        self.strip.acceptRequested.connect(self.accept_variation)
        self.strip.discardRequested.connect(self.discard_variations)
        self.strip.accept_button.setToolTip(
            "Write the selected variation into the clip (one undo step)"
        )
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.viewport)
        splitter.addWidget(self.curves)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.viewport.setMinimumWidth(320)  # a GL widget hints no size: keep it from collapsing
        splitter.setSizes([600, 400])
        scrub = QHBoxLayout()
        scrub.addWidget(self.slider, 1)
        scrub.addWidget(self.frame_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.toolbar)
        layout.addWidget(splitter, 1)
        layout.addLayout(scrub)
        layout.addWidget(self.timeline)
        layout.addWidget(self.strip)
        layout.addWidget(self.status)
        self.status.setContentsMargins(6, 0, 6, 2)

    def _build_toolbar(self) -> None:
        self.new_clip_action = self._button("New clip", self.new_clip)
        self.toolbar.addSeparator()
        self.play_action = self._button("Play", self.toggle_play, "play")
        self.play_action.setToolTip("Play / pause (Space)")
        self.loop_action = self._button("Loop", lambda: None)
        self.loop_action.setCheckable(True)
        self.loop_action.setChecked(True)
        self.loop_action.setToolTip("Start again at the first frame after the last")
        self.follow_action = self._button("Follow root", self._on_follow)
        self.follow_action.setCheckable(True)
        self.follow_action.setChecked(True)  # a walk would leave a fixed camera's view
        self.follow_action.setToolTip("Keep the camera centred on the character")
        self.frame_action = self._button("Frame all", self.viewport.frame_all, "frame_all")
        self.frame_action.setToolTip(
            "Fit the camera to the skeleton over the whole clip, from where it looks (F)"
        )
        self.toolbar.addSeparator()
        self.eraser_action = self._button("Eraser", self._on_eraser, "eraser")
        self.eraser_action.setCheckable(True)
        self.eraser_action.setToolTip(
            "Dragging on the timeline clears frames (right drag always does)"
        )
        self.clear_mask_action = self._button("Clear mask", self.clear_mask, "clear_mask")
        self.toolbar.addSeparator()
        self._build_zoom_actions()
        self._build_frame_keys()

    def _build_zoom_actions(self) -> None:
        """Timeline zoom: the same view calls as Ctrl+wheel and a ruler double-click."""
        self.toolbar.addWidget(QLabel(" Timeline "))
        self.zoom_out_action = self._button(
            "−", lambda: self.timeline.zoom_by(1 / ZOOM_STEP), "zoom_out"
        )
        self.zoom_out_action.setToolTip("Zoom the timeline out (Ctrl+- or Ctrl+wheel)")
        self.zoom_in_action = self._button("+", lambda: self.timeline.zoom_by(ZOOM_STEP), "zoom_in")
        self.zoom_in_action.setToolTip("Zoom the timeline in (Ctrl+= or Ctrl+wheel)")
        self.fit_timeline_action = self._button("Fit", self.timeline.fit, "fit")
        self.fit_timeline_action.setToolTip(
            "Show the whole clip on the timeline (Ctrl+0, or double-click the ruler)"
        )

    def _button(
        self, text: str, slot: Callable[[], object], command: str = "", toolbar: bool = True
    ) -> QAction:
        """An action on the toolbar (unless ``toolbar`` is False) and on the editor.

        On the editor so that ``command``'s keys (:mod:`app.shortcuts`) work wherever the
        focus is in the window while the Motion tab is shown.
        """
        action = self.toolbar.addAction(text) if toolbar else QAction(text, self)
        action.triggered.connect(lambda _checked=False: slot())
        if command:
            bind(action, "motion", command)
        self.addAction(action)
        return action

    def _build_frame_keys(self) -> None:
        """Left / Right step one frame, Home / End go to the first / last (no buttons)."""
        for command, slot in (
            ("previous", lambda: self.set_frame(self.frame - 1)),
            ("next", lambda: self.set_frame(self.frame + 1)),
            ("first", lambda: self.set_frame(0)),
            ("last", lambda: self.set_frame(self.n_frames_shown() - 1)),
        ):
            self._button(command, slot, command, toolbar=False)

    def n_frames_shown(self) -> int:
        clip = self._sequence_clip
        return clip.n_frames if clip is not None else 0

    def _on_follow(self) -> None:
        self.viewport.set_follow_root(self.follow_action.isChecked())

    def _on_eraser(self) -> None:
        self.timeline.erase = self.eraser_action.isChecked()

    # -- documents ------------------------------------------------------------------------

    def has_document(self) -> bool:
        return self.document is not None

    def open_path(self, path: Path) -> None:
        """Read and map the file first; the current document is replaced only on success."""
        document = MotionDocument.open(path)
        self.set_document(document, path)

    def open_decoded(self, path: Path, decoded: object) -> None:
        """The motion reader gave a :class:`MotionDocument` (decoded off the GUI thread)."""
        if not isinstance(decoded, MotionDocument):
            raise TypeError(f"{path.name}: the motion reader gave no motion document")
        self.set_document(decoded, path)

    def set_document(self, document: MotionDocument, path: Path | None = None) -> None:
        """Show a new document: history, variations and any preview start afresh."""
        self.pause()
        self._drop_job()
        self.document, self.path = document, path
        self.mark_saved()  # a new clip starts clean too: nothing is lost until an accept
        document.subscribe(self._on_change)
        self.timeline.set_document(document)
        self.slider.setRange(0, document.n_frames - 1)
        self.frame = 0
        self._show("document", document.clip, refit=True)
        self._show_mask_range()
        self.show_status(f"{document.n_frames} frames at {document.clip.fps:g} fps")
        self.stateChanged.emit()

    def export_path(self, path: Path) -> None:
        if self.document is None:
            raise ValueError("nothing to export: open a BVH first")
        if path.suffix.lower() not in self.export_extensions:
            raise ValueError(f"motion is exported as .bvh, not {path.suffix or 'no extension'}")
        self.document.export(path)
        self.document.name, self.path = path.name, path  # the document is now that file
        self.mark_saved()
        self.stateChanged.emit()

    def document_name(self) -> str:
        return self.document.name if self.document is not None else ""

    # -- mask ---------------------------------------------------------------------------------

    def has_mask(self) -> bool:
        return self.document is not None and self.document.has_mask()

    def mark(self, first: int, last: int, part: str, value: bool = True) -> None:
        """Mark frames of a part as one undo step (what a timeline drag does)."""
        if self.document is not None:
            self.document.begin_stroke()
            self.document.set_mask(first, last, part, value)
            self.document.end_stroke()
            self.stateChanged.emit()

    def clear_mask(self) -> None:
        if self.document is not None:
            self.document.clear_mask()
            self.stateChanged.emit()

    # -- playback ---------------------------------------------------------------------------

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def toggle_play(self) -> None:
        self.pause() if self.playing else self.play()

    def play(self) -> None:
        """Play at the clip's frame rate; frames are picked by the clock, so slow draws skip."""
        if self._sequence_clip is None or self.playing:
            return
        if self.frame >= self._sequence_clip.n_frames - 1:
            self.set_frame(0)
        self._play_origin = self.frame
        self._clock.start()
        self._timer.start(max(1, round(self._sequence_clip.frame_time * 1000)))
        self.play_action.setText("Pause")

    def pause(self) -> None:
        self._timer.stop()
        self._move_curves_playhead()
        self.play_action.setText("Play")

    def _tick(self) -> None:
        clip = self._sequence_clip
        if clip is None:
            self.pause()
            return
        frame = self._play_origin + int(self._clock.elapsed() / 1000.0 / clip.frame_time)
        if frame >= clip.n_frames:
            if not self.loop_action.isChecked():
                self.set_frame(clip.n_frames - 1)
                self.pause()
                return
            frame %= clip.n_frames
            self._play_origin = frame
            self._clock.start()
        self.set_frame(frame)

    def set_frame(self, frame: int) -> None:
        """Move the playhead everywhere (viewport, timeline, curves, slider, label)."""
        if self._sequence_clip is None:
            return
        self.frame = int(np.clip(frame, 0, self._sequence_clip.n_frames - 1))
        self.viewport.set_frame(self.frame)
        self.timeline.set_playhead(self.frame)
        self._move_curves_playhead()
        self.slider.blockSignals(True)
        self.slider.setValue(self.frame)
        self.slider.blockSignals(False)
        fps = self._sequence_clip.fps
        last = self._sequence_clip.n_frames - 1
        self.frame_label.setText(f"frame {self.frame} / {last} · {fps:g} fps")

    def _move_curves_playhead(self) -> None:
        """At most every :data:`CURVES_PLAYHEAD_MS` while playing: a plot repaint costs ~13 ms,
        and the skeleton, not the plot, is what is watched at 30 fps."""
        now = self._clock.elapsed() if self.playing else None
        if now is not None and 0 <= now - self._curves_moved_ms < CURVES_PLAYHEAD_MS:
            return  # (a negative gap: the clock restarted on a loop)
        self._curves_moved_ms = now if now is not None else -CURVES_PLAYHEAD_MS
        self.curves.set_playhead(self.frame)

    # -- sequences --------------------------------------------------------------------------

    def _show(self, kind: str, clip: Clip, refit: bool = False) -> None:
        """Play ``clip`` as ``kind`` (document, preview or variation): poses computed once here."""
        assert self.document is not None
        self.showing = kind
        self._sequence_clip = clip
        points = skeleton_points(clip, self.document.skeleton_map)
        self.viewport.set_sequence(points, kind)
        if refit:
            self.viewport.frame_all()  # a new clip: its whole skeleton in view
        self.curves.set_clips(self.document.clip, None if kind == "document" else clip)
        self.set_frame(self.frame)

    def shown_points(self) -> SkeletonPoints | None:
        return self.viewport.sequence

    def _on_change(self, event: DocumentChanged) -> None:
        if event.kind == "motion" and self.document is not None and self.showing == "document":
            self._show("document", self.document.clip)
        elif event.kind == "mask":
            self._show_mask_range()
        self.stateChanged.emit()

    def _show_mask_range(self) -> None:
        assert self.document is not None
        try:
            first, last, _part = self.document.mask_block()
            self.curves.set_mask_range((first, last))
        except ValueError:
            rows = np.flatnonzero(self.document.mask.any(axis=1))
            self.curves.set_mask_range((int(rows[0]), int(rows[-1])) if rows.size else None)

    # -- generation ------------------------------------------------------------------------

    def make_generate_payload(self, manifest: ModelManifest) -> tuple[Any, MediumCodec]:
        """Snapshot clip + masked block (copies) and the model's codec; ValueError if unusable."""
        if self.document is None:
            raise ValueError("open a BVH first")
        payload = self.document.snapshot()
        codec = self.codec_factory(manifest)
        self._drop_job()
        self._job = (payload, codec)
        self.preview_updates = 0
        return payload, codec

    def show_step(self, progress: Progress) -> None:
        """Play the decoded pose sequence of this step (orange); the document stays as it is."""
        if self._job is None or self.document is None:
            return
        step = progress.step
        payload, codec = self._job
        try:
            clip = preview_clip(codec, payload, step)
        except Exception:  # noqa: BLE001 - a preview must never break the generation
            _log.warning("live motion preview failed", exc_info=True)
            return
        if clip is not None:
            self._show("preview", clip)
            self.preview_updates += 1
        where = f"frames {payload.first}-{payload.last} ({payload.part})"
        self.show_status(f"Generating {where}: step {step.index}/{step.total}")

    def clear_preview(self) -> None:
        """The job was cancelled or failed: back to the document, untouched."""
        self._job = None
        if self.document is not None and self.showing == "preview":
            self._show("document", self.document.clip)

    def show_results(self, result: GenerateResult) -> None:
        """Offer the variations in the strip; the first plays from just before the edit."""
        if self._job is None or self.document is None:
            return
        clips = [as_clip(v) for v in result.variations]
        self._show_offer(KeptVariations.of(clips, self._job[0]))

    def kept_variations(self) -> MotionVariations | None:
        """The offer with the selected variation, for a project file (None: no offer)."""
        return None if self._offer is None else self._offer.showing(self.strip.current())

    def restore_variations(self, kept: MotionVariations) -> None:
        """Offer a reopened project's variations again, the saved one selected."""
        if self.document is not None:
            self._drop_job()
            self._show_offer(kept)

    def _show_offer(self, offer: MotionVariations | None) -> None:
        self._offer = offer
        if offer is None:
            return
        payload = offer.context
        thumbs = [self._thumbnail(clip, payload) for clip in offer.items]
        self.strip.set_variations(thumbs)  # selects 0 -> audition(0)
        if offer.shown:
            self.strip.select(offer.shown)
        self.show_status(
            f"{len(offer.items)} variation(s) of frames {payload.first}-{payload.last}: "
            "pick one to play, then Accept or Discard all"
        )

    def audition(self, index: int) -> None:
        """Play variation ``index`` (blue) from a little before the edited range."""
        if self._offer is None or not 0 <= index < len(self._offer.items):
            return
        payload = self._offer.context
        self.frame = max(payload.first - _PREROLL_FRAMES, 0)
        self._show("variation", self._offer.items[index])
        self.play()

    def accept_variation(self, index: int) -> None:
        """Write variation ``index`` into the document: one undo step."""
        offer = self._offer
        if offer is None or self.document is None or not 0 <= index < len(offer.items):
            return
        clip, payload = offer.items[index], offer.context
        self._drop_job()
        self.document.accept(clip, payload)
        self._show("document", self.document.clip)
        self.show_status(f"Accepted variation {index + 1}")
        self.stateChanged.emit()

    def discard_variations(self) -> None:
        """Back to the document exactly as it was."""
        self._drop_job()
        if self.document is not None:
            self._show("document", self.document.clip)
        self.show_status("Discarded the variations")

    def _drop_job(self) -> None:
        self._job, self._offer = None, None
        self.strip.blockSignals(True)
        self.strip.clear()
        self.strip.blockSignals(False)

    def _thumbnail(self, clip: Clip, payload: MotionPayload) -> QPixmap:
        assert self.document is not None
        points = skeleton_points(clip, self.document.skeleton_map)
        frames = np.linspace(payload.first, payload.last, num=min(5, payload.n_frames)).round()
        return pose_thumbnail(points, [int(f) for f in frames])

    def show_status(self, text: str) -> None:
        self.status.setText(text)
