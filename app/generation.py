"""One generation at a time, from the editor that asked for it to the editor that gets it.

The window hands :class:`GenerationControl` an editor, a model and sampler
settings; the control builds the editor's payload, submits it to the
:class:`~app.engine_worker.EngineBridge`, and routes the bridge's progress,
result, failure and cancel signals back to *that* editor, whatever tab is
shown by then, while keeping the progress bar and the status line in step.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from app.editor_base import MediumEditor
from app.engine_worker import EngineBridge, one_line
from app.progress import GenerateBar
from engine.jobs import GenerateResult, Progress
from engine.models import ModelManifest
from engine.sampling.types import SamplerSettings

StatusFn = Callable[[str, int], None]
"""Shows a status-bar message for some milliseconds (0: until replaced)."""


def short_provider(provider: str) -> str:
    """``CUDAExecutionProvider`` -> ``CUDA``, for the status bar."""
    return provider.removesuffix("ExecutionProvider") or provider


class GenerationControl:
    """Submits an editor's job and shows its progress and results (see the module docstring)."""

    def __init__(self, bridge: EngineBridge, bar: GenerateBar, status: StatusFn) -> None:
        self.bridge = bridge
        self.bar = bar
        self._status = status
        self.job_editor: MediumEditor | None = None
        self._clicked = time.perf_counter()
        """When the current job was asked for: the time shown is what the user waited."""
        self.last_seconds = 0.0
        bridge.stepReady.connect(self._on_step)
        bridge.finished.connect(self._on_finished)
        bridge.failed.connect(self._on_failed)
        bridge.cancelled.connect(self._on_cancelled)

    def start(
        self, editor: MediumEditor, manifest: ModelManifest, settings: SamplerSettings
    ) -> int | None:
        """Submit ``editor``'s job; its generation, or None (why: in the status bar)."""
        self._clicked = time.perf_counter()
        try:
            payload, codec = editor.make_generate_payload(manifest)
        except ValueError as exc:
            self._status(one_line(exc), 5000)
            return None
        if self.job_editor is not None and self.job_editor is not editor:
            self.job_editor.clear_preview()  # the superseded job's preview must not linger
        self.job_editor = editor  # results go where the job came from, whatever tab is shown
        self.bar.start(settings.steps)  # before submit: synchronous bridges finish inside it
        return self.bridge.generate(manifest.name, settings, payload, codec)

    def _on_step(self, _generation: int, progress: Progress) -> None:
        if self.job_editor is not None:
            self.job_editor.show_step(progress)
        step = progress.step
        self.bar.show_progress(progress.window, progress.windows, step.index, step.total)

    def _on_finished(self, result: GenerateResult) -> None:
        """Show the results, then the time from the click to now (model load and decode too).

        The editor's state changes too: it now offers variations, which autosave keeps.
        """
        if self.job_editor is not None:
            self.job_editor.show_results(result)
            self.job_editor.stateChanged.emit()
        count = len(result.variations)
        waited = self.last_seconds = time.perf_counter() - self._clicked
        self.bar.finish(f"{count} variation{'s' * (count != 1)} in {waited:.1f} s")
        self._status(f"Generated on {short_provider(result.provider)}", 5000)

    def _on_failed(self, _generation: int, message: str) -> None:
        if self.job_editor is not None:
            self.job_editor.clear_preview()
        self.bar.reset("failed")
        self._status(f"Generation failed: {message}", 0)

    def _on_cancelled(self, _generation: int) -> None:
        if self.job_editor is not None:
            self.job_editor.clear_preview()
        self.bar.reset("cancelled")
