"""One generation on the Image page: its live preview, the variations offered, its heat-map.

:class:`ImageGeneration` holds what :meth:`app.image.editor.ImageEditor.make_generate_payload`
planned (an :class:`engine.media.image.edit.ImageEdit`) and shows it on the canvas, the
variation strip and the status line. Steps are decoded into a preview layer over the window
being generated (off the GUI thread once the window sets ``decoder.threaded``); the result
is offered as whole-image variations. The document is never written here: :meth:`take`
hands the accepted variation and its region to the editor, which writes it as one undo step.
An offer outlives its job: :meth:`kept` and :meth:`restore` carry it through a project file
(:mod:`engine.project_variations`), variations and region only (the heat-map is not kept).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QCheckBox

from app.image.canvas import ImageCanvas
from app.image.heatmap import HeatSource
from app.image.widgets import thumbnail
from app.preview_decoder import LatestDecoder
from app.status_line import ElidedLabel
from app.variations import VariationsStrip
from engine.jobs import GenerateResult, Progress
from engine.media.image.codec import ImageCodec
from engine.media.image.edit import ImageEdit, PreviewPatch, preview_patch
from engine.media.image.files import LoadedImage
from engine.media.image.mask import bounding_box
from engine.media.image.project import ImageVariations
from engine.project_variations import KeptVariations


class ImageGeneration:
    """The job being generated or offered, drawn on ``canvas``, ``strip`` and ``status``."""

    def __init__(
        self,
        canvas: ImageCanvas,
        strip: VariationsStrip,
        status: ElidedLabel,
        heat_toggle: QCheckBox,
        parent: QObject,
    ) -> None:
        self.canvas = canvas
        self.strip = strip
        self.status = status
        self.heat_toggle = heat_toggle
        self.job: ImageEdit | None = None
        """The edit being generated or offered: snapshot and crop windows."""
        self.job_codec: ImageCodec | None = None
        self.variations: list[LoadedImage] = []
        self.region: np.ndarray | None = None
        """The pixels the offered variations fill (what Accept writes); None with no offer."""
        self.heat: HeatSource | None = None
        """The last generation's confidence: drawn while the toggle is on, past the result."""
        self.decoder = LatestDecoder(self._show_preview, parent)
        """Live previews off the GUI thread once the window sets ``decoder.threaded``."""
        self.preview_updates = 0
        """Steps drawn so far (tests and the status line read it)."""

    def start(self, job: ImageEdit, codec: ImageCodec) -> None:
        """A new job replaces whatever was offered before."""
        self.forget()
        self.job, self.job_codec = job, codec
        self.heat = HeatSource(codec)
        self.preview_updates = 0
        self.strip.clear()
        self.status.setText(f"generating{self._window_note(0)}…")

    def show_step(self, progress: Progress) -> None:
        """Decode this step into its window's holes (and the heat-map); the document is untouched.

        The decode (the VQ decoder, ~0.1 s on a small CPU) runs in :attr:`decoder`'s
        thread, newest step first; :meth:`_show_preview` draws it when it is done.
        """
        job, codec, step = self.job, self.job_codec, progress.step
        if job is None or codec is None or self.variations:
            return
        payload = job.windows[progress.window]
        known = progress.problem.tokens
        self.decoder.submit(
            progress.window,
            lambda: preview_patch(codec, payload, known, step.tokens, step.still_masked),
        )
        if self.heat is not None:
            self.heat.record(progress.window, payload, step.confidence)
            if self.heat_toggle.isChecked():
                self.heat.draw(self.canvas, progress.window)
                self.canvas.show_heat(True)
        note = self._window_note(progress.window)
        self.status.setText(f"step {step.index}/{step.total}{note}")

    def _show_preview(self, window: int, patch: PreviewPatch) -> None:
        """A decoded step arrives on the GUI thread: drawn unless the job ended meanwhile."""
        if self.job is None or self.variations:
            return
        self.canvas.set_preview(patch.rgba, patch.top, patch.left, window)
        self.preview_updates += 1

    def _window_note(self, window: int) -> str:
        job = self.job
        return f" · window {window + 1}/{job.count}" if job is not None and job.count > 1 else ""

    def clear_preview(self) -> None:
        """The job was cancelled or failed: drop plan and preview; the document is as it was."""
        self.job = self.job_codec = self.heat = None
        self.decoder.reset()
        self.canvas.clear_preview()
        if not self.variations:
            self.strip.clear()
            self.status.clear()

    def show_results(self, result: GenerateResult) -> None:
        """Offer the whole-image variations (every window merged by the worker's run)."""
        if self.job is None or self.variations:
            return
        self.variations = list(result.variations)
        self.region = self._edited_region()
        self.decoder.reset()
        self.canvas.drop_previews()  # the heat-map stays: it is about the result
        self._offer()

    def _offer(self) -> None:
        count = len(self.variations)
        self.strip.set_variations([thumbnail(image) for image in self.variations])
        self.status.setText(f"{count} variation{'s' * (count != 1)}: pick one, then Accept")

    def kept(self, shown: int) -> ImageVariations | None:
        """The offer as a project keeps it (None when nothing is offered)."""
        if self.region is None:
            return None
        return KeptVariations.of(self.variations, self.region.copy(), shown)

    def restore(self, kept: ImageVariations) -> None:
        """Offer a project's kept variations again, ``kept.shown`` selected and previewed."""
        self.forget()
        self.variations, self.region = list(kept.items), kept.context
        self._offer()
        self.strip.select(kept.shown)

    def select(self, index: int) -> None:
        """Preview variation ``index`` over the picture (only its edited pixels)."""
        region = self.region
        if not (0 <= index < len(self.variations)) or region is None:
            return
        box = bounding_box(region)
        if box is None:
            return
        variation = self.variations[index]
        alpha = np.where(region[box], 255, 0).astype(np.uint8)
        rgba = np.concatenate([variation.rgb[box], alpha[:, :, None]], axis=2)
        self.canvas.drop_previews()  # one layer for the whole variation
        self.canvas.set_preview(np.ascontiguousarray(rgba), box[0].start, box[1].start)
        if self.heat is not None:
            self.heat.which = index
            self.show_heat(self.heat_toggle.isChecked())

    def take(self, index: int) -> tuple[LoadedImage, np.ndarray] | None:
        """Variation ``index`` and the region it fills; the offer ends, its heat-map stays."""
        region = self.region
        if region is None or not (0 <= index < len(self.variations)):
            return None
        variation = self.variations[index]
        heat = self.heat
        self.forget()
        self.heat = heat  # it outlives the result: where did the model guess?
        if heat is not None:
            heat.which = index
            self.show_heat(self.heat_toggle.isChecked())
        return variation, region

    def _edited_region(self) -> np.ndarray:
        assert self.job is not None
        regions = self.job.regions()
        return np.logical_or.reduce(regions) if regions else np.zeros((0, 0), bool)

    def forget(self) -> None:
        """Back to exactly the previous view: no job, preview, strip or heat-map."""
        self.job = self.job_codec = self.heat = None
        self.decoder.reset()
        self.variations = []
        self.region = None
        self.canvas.clear_preview()
        self.strip.clear()
        self.status.clear()

    def show_heat(self, on: bool) -> None:
        """The heat-map toggle: drawn from what was kept, for the variation looked at."""
        if on and self.heat is not None:
            self.heat.draw(self.canvas)
        self.canvas.show_heat(on)
