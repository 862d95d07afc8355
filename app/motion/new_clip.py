"""The motion editor's "New clip": a blank clip of the model's rig, all masked, then Generate.

:class:`NewClipEditor` sits between :class:`app.editor_base.MediumEditor` and
:class:`app.motion.editor.MotionEditor`: it adds "New clip" to the welcome page
and keeps that button and the toolbar's action enabled only while a motion
model is installed.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import cast

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QShowEvent
from PySide6.QtWidgets import QPushButton

from app.editor_base import MediumEditor
from app.engine_worker import one_line
from app.motion.clips import CodecFactory, rest_pose
from engine.media.motion.clip import Clip
from engine.media.motion.document import MotionDocument
from engine.models import ModelManifest, ModelRegistry


class NewClipEditor(MediumEditor):
    """The "New clip" part of the motion editor (see the module docstring)."""

    codec_factory: CodecFactory
    new_clip_action: QAction
    new_clip_button: QPushButton | None

    @abstractmethod
    def set_document(self, document: MotionDocument, path: Path | None = None) -> None:
        """Show a new document (the editor's own)."""

    @abstractmethod
    def show_status(self, text: str) -> None:
        """Say something on the editor's status line."""

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
