"""A scripted answer to the window's "unsaved changes" question, shared by the app tests."""

from __future__ import annotations

from app.unsaved import Choice


class Prompt:
    """Answers :attr:`MainWindow.confirm_discard` at once and remembers what it was asked."""

    def __init__(self, choice: Choice) -> None:
        self.choice = choice
        self.asked: list[list[str]] = []

    def __call__(self, names: list[str]) -> Choice:
        self.asked.append(list(names))
        return self.choice
