"""Media: documents <-> tokens, file I/O and compositing, one subpackage per medium.

Each medium package (``image``, ``midi``, ``motion``) provides a plain document
object with change events, a :class:`engine.jobs.MediumCodec` (or
``WindowedCodec``) and a ``spec.py`` whose ``SPEC`` registers it in
:mod:`engine.media.registry`. This package imports none of them eagerly, so a
broken medium never stops the others from loading.
"""

__all__: list[str] = []
