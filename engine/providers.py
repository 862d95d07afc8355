"""onnxruntime execution-provider names, shared by the model registry and the runtime.

A module of its own so that :mod:`engine.models` (which opens graphs on the
CPU to check them) need not import :mod:`engine.runtime`, which in turn
types its sessions with :class:`engine.manifest.ModelManifest`: no import cycle.
"""

CPU_PROVIDER = "CPUExecutionProvider"
CUDA_PROVIDER = "CUDAExecutionProvider"
TENSORRT_PROVIDER = "TensorrtExecutionProvider"

__all__ = ["CPU_PROVIDER", "CUDA_PROVIDER", "TENSORRT_PROVIDER"]
