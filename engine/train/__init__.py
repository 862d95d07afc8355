"""Training, evaluation and ONNX export (the only package that may import torch)."""
