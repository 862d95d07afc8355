"""Media codecs: documents <-> tokens, file I/O and compositing, one module per medium.

Each medium module (``tokens``, ``image``, ``midi``, ``motion``) provides a
plain document object with change events and a :class:`engine.jobs.MediumCodec`.
This package imports none of them eagerly, so a broken or missing medium never
stops the others from loading.
"""

__all__: list[str] = []
