"""archgen: declarative CNN specs for analog in-memory computing, checked and
rendered to PyTorch and aihwkit code."""

__version__ = "0.1.0"
