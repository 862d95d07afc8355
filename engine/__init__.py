"""remask engine: masked-token generation with onnxruntime and numpy only.

This package must never import Qt or torch (``engine/train`` alone imports torch,
and it is never imported by ``engine`` itself). ``tests/engine/test_layering.py``
enforces that.
"""

__all__: list[str] = []
