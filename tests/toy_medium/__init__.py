"""The toy medium: a grid of token ids, added to remask from outside its packages.

It is the smallest complete medium, and the proof that adding one touches no
shared file (``docs/adding-a-medium.md`` walks through it):

- :mod:`.document` — the engine layer: document, payload and codec (no Qt);
- :mod:`.spec` — its :class:`~engine.media.registry.MediumSpec`, and ``register()``;
- :mod:`.editor` — the app layer: a :class:`~app.editor_base.MediumEditor` (Qt);
- :mod:`.cli` — its batch verb, ``remask tokens-fill``;
- :mod:`.app_spec` — its :class:`~app.registry.AppMediumSpec`, and ``register()``.

The engine side is registered for the whole test session by ``tests/conftest.py``:
the tiny models of ``tests/tinymodels.py`` are of this medium (``"tokens"``).
The app side (a tab in the window, the CLI verb) is registered only by the tests
that want it, see ``test_toy_medium.py``.
"""
