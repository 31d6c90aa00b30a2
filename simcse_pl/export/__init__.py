"""The export folder: its file names (``layout``), the writer, the model card, the readers of saved models and
checkpoints, and ONNX. Above ``encoders``, ``losses`` and ``evaluation``; below ``training`` and ``inference``."""
