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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
from PySide6.QtCore import QElapsedTimer, QEvent, QObject, QPointF, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QKeySequence, QPainter, QPen, QPixmap, QShowEvent
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

from app.editor_base import MediumEditor
from app.engine_worker import one_line
from app.motion.curves import MotionCurves
from app.motion.timeline import ZOOM_STEP, MotionTimeline
from app.motion.viewport import TINTS, MotionViewport, SkeletonPoints, skeleton_points
from app.variations import VariationsStrip
from engine.jobs import GenerateResult, MediumCodec, Progress
from engine.media.motion.bvh import Clip
from engine.media.motion.document import FrameSpan, MotionDocument, MotionPayload
from engine.models import ModelManifest, ModelRegistry
from engine.sampling.types import Step

_log = logging.getLogger(__name__)

CodecFactory = Callable[[ModelManifest], MediumCodec]
"""Makes the codec for a motion model (tests pass a tiny one)."""

THUMB_SIZE = (96, 72)
_PREROLL_FRAMES = 15
"""Auditioning a variation starts this many frames before the edit, to see the transition."""


def default_codec(manifest: ModelManifest) -> MediumCodec:
    """The shipped motion codec for ``manifest``; a one-line ValueError when it is missing."""
    try:
        from engine.media.motion import codec as motion_codec
    except ModuleNotFoundError as exc:
        if exc.name != "engine.media.motion.codec":
            raise
        raise ValueError("the motion model's codec is not part of this build yet") from None
    return cast(MediumCodec, motion_codec.MotionCodec(cast(Any, manifest)))


def preview_clip(codec: MediumCodec, payload: MotionPayload, step: Step) -> Clip | None:
    """The codec's decoded pose sequence for one sampler step (first variation), if it has one.

    ``preview(payload, tokens [B, N])`` decodes tokens that are still partly masked;
    one row is enough to show, and keeps the GUI thread's share of the work small.
    """
    preview = getattr(codec, "preview", None)
    if not callable(preview):
        return None
    clips = preview(payload, step.tokens[:1])
    clip = clips[0] if isinstance(clips, list | tuple) and clips else clips
    return clip if isinstance(clip, Clip) else None


def as_clip(variation: Any) -> Clip:
    """A decoded variation as a clip (codecs return clips, or objects carrying ``.clip``)."""
    clip = variation if isinstance(variation, Clip) else getattr(variation, "clip", None)
    if not isinstance(clip, Clip):
        raise TypeError(f"the motion codec returned {type(variation).__name__}, not a clip")
    return clip


class MotionEditor(MediumEditor):
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
        self._saved_revision = 0
        """The document's revision when it was opened (or made) or last exported."""
        self.viewport = MotionViewport(use_gl=use_gl)
        self.timeline = MotionTimeline()
        self.curves = MotionCurves()
        self.strip = VariationsStrip()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.frame_label = QLabel()
        self.status = QLabel()
        self.toolbar = QToolBar()
        self.new_clip_button: QPushButton | None = None
        self.frame = 0
        self.showing = "document"
        """What plays: "document", "preview" or "variation"."""
        self.preview_updates = 0
        self._sequence_clip: Clip | None = None
        self._job: tuple[MotionPayload, MediumCodec] | None = None
        self._variations: list[Clip] = []
        self._timer = QTimer(self)
        self._clock = QElapsedTimer()
        self._play_origin = 0
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
        self.play_action = self._button("Play", self.toggle_play, "Space")
        self.play_action.setToolTip("Play / pause (Space)")
        self.loop_action = self._button("Loop", lambda: None)
        self.loop_action.setCheckable(True)
        self.loop_action.setChecked(True)
        self.loop_action.setToolTip("Start again at the first frame after the last")
        self.follow_action = self._button("Follow root", self._on_follow)
        self.follow_action.setCheckable(True)
        self.follow_action.setChecked(True)  # a walk would leave a fixed camera's view
        self.follow_action.setToolTip("Keep the camera centred on the character")
        self.frame_action = self._button("Frame all", self.viewport.frame_all, "F")
        self.frame_action.setToolTip(
            "Fit the camera to the skeleton over the whole clip, from where it looks (F)"
        )
        self.toolbar.addSeparator()
        self.eraser_action = self._button("Eraser", self._on_eraser)
        self.eraser_action.setCheckable(True)
        self.eraser_action.setToolTip(
            "Dragging on the timeline clears frames (right drag always does)"
        )
        self.clear_mask_action = self._button("Clear mask", self.clear_mask)
        self.toolbar.addSeparator()
        self._build_zoom_actions()

    def _build_zoom_actions(self) -> None:
        """Timeline zoom: the same view calls as Ctrl+wheel and a ruler double-click."""
        self.toolbar.addWidget(QLabel(" Timeline "))
        self.zoom_out_action = self._button("−", lambda: self.timeline.zoom_by(1 / ZOOM_STEP))
        self.zoom_out_action.setShortcuts([QKeySequence("Ctrl+-")])
        self.zoom_out_action.setToolTip("Zoom the timeline out (Ctrl+- or Ctrl+wheel)")
        self.zoom_in_action = self._button("+", lambda: self.timeline.zoom_by(ZOOM_STEP))
        self.zoom_in_action.setShortcuts([QKeySequence("Ctrl+="), QKeySequence("Ctrl++")])
        self.zoom_in_action.setToolTip("Zoom the timeline in (Ctrl+= or Ctrl+wheel)")
        self.fit_timeline_action = self._button("Fit", self.timeline.fit, "Ctrl+0")
        self.fit_timeline_action.setToolTip(
            "Show the whole clip on the timeline (Ctrl+0, or double-click the ruler)"
        )

    def _button(self, text: str, slot: Callable[[], object], shortcut: str = "") -> QAction:
        """A toolbar action whose shortcut works wherever the focus is inside this editor.

        Added to the editor as well as the toolbar: with only the toolbar as its widget, a
        widget-with-children shortcut would need the focus on the toolbar itself.
        """
        action = self.toolbar.addAction(text)
        action.triggered.connect(lambda _checked=False: slot())
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        self.addAction(action)
        return action

    def _on_follow(self) -> None:
        self.viewport.set_follow_root(self.follow_action.isChecked())

    def _on_eraser(self) -> None:
        self.timeline.erase = self.eraser_action.isChecked()

    # -- welcome page: "Open a BVH…" and "New clip" ------------------------------------------

    def event(self, event: QEvent) -> bool:  # noqa: D401 - Qt override
        """Adopt the welcome page when the window's medium page takes this editor in."""
        if event.type() == QEvent.Type.ParentChange:
            self._adopt_welcome_page()
        return super().event(event)

    def _adopt_welcome_page(self) -> None:
        """Add "New clip" beside the page's open button (the page knows no medium specifics).

        Duck-typed on the window's ``MediumPage.welcome`` so this needs no change there;
        a welcome page without ``open_button`` is left alone.
        """
        welcome = getattr(self.parentWidget(), "welcome", None)
        open_button = getattr(welcome, "open_button", None)
        if welcome is None or open_button is None or not hasattr(self, "new_clip_button"):
            return  # not on a medium page, or still inside __init__
        if self.new_clip_button is not None:
            return
        open_button.setText("Open a BVH…")
        self.new_clip_button = QPushButton("New clip")
        self.new_clip_button.clicked.connect(lambda _checked=False: self.new_clip())
        layout = welcome.layout()
        layout.insertWidget(layout.indexOf(open_button) + 1, self.new_clip_button, 0,
                            Qt.AlignmentFlag.AlignHCenter)  # fmt: skip
        welcome.installEventFilter(self)
        self.refresh_new_clip()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Show:
            self.refresh_new_clip()  # models may have been installed since
        return super().eventFilter(watched, event)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """The toolbar's "New clip" is checked like the welcome page's, whenever it shows."""
        self.refresh_new_clip()
        super().showEvent(event)

    def refresh_new_clip(self) -> None:
        """Enable "New clip" (welcome button, toolbar) only with a motion model installed.

        One rule and one tooltip for both places; the tooltip says why it is off.
        """
        manifest = self.motion_model()
        tooltip = (
            f"Generate a clip from scratch with the {manifest.name} model (everything masked)"
            if manifest is not None
            else "No motion model is installed (see 'remask models'): New clip needs one"
        )
        controls: list[QAction | QPushButton] = [self.new_clip_action]
        if self.new_clip_button is not None:
            controls.append(self.new_clip_button)
        for control in controls:
            control.setEnabled(manifest is not None)
            control.setToolTip(tooltip)

    def motion_model(self) -> ModelManifest | None:
        """The model "New clip" uses: the window's chosen motion model, else the first installed."""
        window = self.window()
        sampler = getattr(window, "sampler", None)
        chosen = sampler.current_model() if sampler is not None else None
        if chosen is not None and chosen.medium == self.medium:
            return cast(ModelManifest, chosen)
        registry = getattr(window, "registry", None)
        if not isinstance(registry, ModelRegistry):
            registry = ModelRegistry.discover()
        models = registry.for_medium(self.medium)
        return models[0] if models else None

    def new_clip(self, manifest: ModelManifest | None = None) -> bool:
        """A blank clip of the model's rig, every frame masked, then Generate (via the window).

        The model's window length sets the duration; the result arrives as variations like
        any edit, so accepting one is an undo step and the blank pose can be restored.
        A modified clip is replaced only if the window's question allows it (False if not).
        """
        manifest = manifest or self.motion_model()
        if manifest is None:
            self.show_status("No motion model is installed: New clip needs one")
            return False
        may_discard = getattr(self.window(), "may_discard", None)
        if callable(may_discard) and not may_discard([self]):
            return False
        try:
            self.set_document(MotionDocument.blank(self._blank_clip(manifest), "new clip.bvh"))
        except Exception as exc:  # noqa: BLE001 - a broken model must not take the page down
            self._report(f"Cannot start a new clip with {manifest.name}", one_line(exc))
            return False
        generate = getattr(self.window(), "generate", None)
        if callable(generate):
            generate()
        return True

    def _blank_clip(self, manifest: ModelManifest) -> Clip:
        codec = self.codec_factory(manifest)
        template = getattr(codec, "skeleton_template", None)
        if not callable(template):
            raise ValueError(f"the {manifest.name} model has no skeleton for new clips")
        rig: Clip = template()
        frames = int(getattr(codec, "window", 0) or round(4 * rig.fps))
        return rest_pose(rig, frames)

    def _report(self, title: str, message: str) -> None:
        show_error = getattr(self.window(), "show_error", None)
        if callable(show_error):
            show_error(title, message)
        self.show_status(f"{title}: {message}")

    # -- documents ------------------------------------------------------------------------

    def has_document(self) -> bool:
        return self.document is not None

    def open_path(self, path: Path) -> None:
        """Read and map the file first; the current document is replaced only on success."""
        document = MotionDocument.open(path)
        self.set_document(document, path)

    def set_document(self, document: MotionDocument, path: Path | None = None) -> None:
        """Show a new document: history, variations and any preview start afresh."""
        self.pause()
        self._drop_job()
        self.document, self.path = document, path
        self._saved_revision = document.history.revision
        document.motion_changed.append(self._on_motion_changed)
        document.mask_changed.append(self._on_mask_changed)
        document.history.changed.append(self.stateChanged.emit)
        self.timeline.set_document(document)
        self.slider.setRange(0, document.n_frames - 1)
        self.frame = 0
        self._show("document", document.clip, refit=True)
        self._on_mask_changed((0, document.n_frames))
        self.show_status(f"{document.n_frames} frames at {document.clip.fps:g} fps")
        self.stateChanged.emit()

    def export_path(self, path: Path) -> None:
        if self.document is None:
            raise ValueError("nothing to export: open a BVH first")
        if path.suffix.lower() not in self.export_extensions:
            raise ValueError(f"motion is exported as .bvh, not {path.suffix or 'no extension'}")
        self.document.export(path)
        self._saved_revision = self.document.history.revision
        self.stateChanged.emit()

    def is_modified(self) -> bool:
        """A new clip starts clean too: nothing is lost until a variation is accepted."""
        if self.document is None:
            return False
        return self.document.history.revision != self._saved_revision

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
        self.curves.set_playhead(self.frame)
        self.slider.blockSignals(True)
        self.slider.setValue(self.frame)
        self.slider.blockSignals(False)
        fps = self._sequence_clip.fps
        last = self._sequence_clip.n_frames - 1
        self.frame_label.setText(f"frame {self.frame} / {last} · {fps:g} fps")

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

    def _on_motion_changed(self, _span: FrameSpan) -> None:
        if self.document is not None and self.showing == "document":
            self._show("document", self.document.clip)

    def _on_mask_changed(self, _span: FrameSpan) -> None:
        assert self.document is not None
        try:
            first, last, _part = self.document.mask_block()
            self.curves.set_mask_range((first, last))
        except ValueError:
            rows = np.flatnonzero(self.document.mask.any(axis=1))
            self.curves.set_mask_range((int(rows[0]), int(rows[-1])) if rows.size else None)
        self.stateChanged.emit()

    # -- generation ------------------------------------------------------------------------

    def make_generate_payload(self, manifest: ModelManifest) -> tuple[Any, MediumCodec]:
        """Snapshot clip + masked block (copies) and the model's codec; ValueError if unusable."""
        if self.document is None:
            raise ValueError("open a BVH first")
        payload = self.document.snapshot()
        codec = self.codec_factory(manifest)
        self._clear_variations()
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
        self._variations = [as_clip(v) for v in result.variations]
        payload = self._job[0]
        thumbs = [self._thumbnail(clip, payload) for clip in self._variations]
        self.strip.set_variations(thumbs)  # selects 0 -> audition(0)
        self.show_status(
            f"{len(self._variations)} variation(s) of frames {payload.first}-{payload.last}: "
            "pick one to play, then Accept or Discard all"
        )

    def audition(self, index: int) -> None:
        """Play variation ``index`` (blue) from a little before the edited range."""
        if self._job is None or not 0 <= index < len(self._variations):
            return
        payload = self._job[0]
        self.frame = max(payload.first - _PREROLL_FRAMES, 0)
        self._show("variation", self._variations[index])
        self.play()

    def accept_variation(self, index: int) -> None:
        """Write variation ``index`` into the document: one undo step."""
        if self._job is None or self.document is None or not 0 <= index < len(self._variations):
            return
        clip, payload = self._variations[index], self._job[0]
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

    def _clear_variations(self) -> None:
        self._variations = []
        self.strip.blockSignals(True)
        self.strip.clear()
        self.strip.blockSignals(False)

    def _drop_job(self) -> None:
        self._job = None
        self._clear_variations()

    def _thumbnail(self, clip: Clip, payload: MotionPayload) -> QPixmap:
        assert self.document is not None
        points = skeleton_points(clip, self.document.skeleton_map)
        frames = np.linspace(payload.first, payload.last, num=min(5, payload.n_frames)).round()
        return pose_thumbnail(points, [int(f) for f in frames])

    # -- history -----------------------------------------------------------------------------

    def undo(self) -> bool:
        return self.document is not None and self._after_history(self.document.undo())

    def redo(self) -> bool:
        return self.document is not None and self._after_history(self.document.redo())

    def _after_history(self, done: bool) -> bool:
        if done:
            self.stateChanged.emit()
        return done

    def can_undo(self) -> bool:
        return self.document is not None and self.document.history.can_undo

    def can_redo(self) -> bool:
        return self.document is not None and self.document.history.can_redo

    def show_status(self, text: str) -> None:
        self.status.setText(text)


def rest_pose(rig: Clip, frames: int) -> Clip:
    """``frames`` frames of the rig's rest pose: rotations zero, position channels = offsets.

    A position channel *replaces* its joint's offset, so zeros there (a rig read from
    a skeleton file without motion) would fold every 6-channel joint onto its parent.
    """
    row = np.zeros(rig.n_channels)
    for index, joint in enumerate(rig.joints):
        columns = rig.channel_columns(index, "position")
        row[columns] = [joint.offset["XYZ".index(axis)] for axis in joint.position_axes]
    return rig.with_motion(np.repeat(row[None, :], frames, axis=0))


def pose_thumbnail(points: SkeletonPoints, frames: Sequence[int]) -> QPixmap:
    """An onion skin of a few poses seen from the side (older poses fainter): a variation's gist."""
    width, height = THUMB_SIZE
    pixmap = QPixmap(width, height)
    pixmap.fill(QColor(38, 40, 46))
    side = points.points[list(frames)][..., 1:]  # GL (y, z): forward and up
    low, high = side.min(axis=(0, 1)), side.max(axis=(0, 1))
    scale = 0.9 * min(width / max(high[0] - low[0], 1e-6), height / max(high[1] - low[1], 1e-6))
    centre = (low + high) / 2
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    red, green, blue, _ = (int(c * 255) for c in TINTS["variation"])
    for order, pose in enumerate(side):
        alpha = int(255 * (order + 1) / len(side))
        painter.setPen(QPen(QColor(red, green, blue, alpha), 1.5))
        for parent, child in points.bones:
            a, b = (_to_pixel(pose[i], centre, scale) for i in (parent, child))
            painter.drawLine(a, b)
    painter.end()
    return pixmap


def _to_pixel(point: np.ndarray, centre: np.ndarray, scale: float) -> QPointF:
    width, height = THUMB_SIZE
    return QPointF(
        width / 2 + (point[0] - centre[0]) * scale, height / 2 - (point[1] - centre[1]) * scale
    )
