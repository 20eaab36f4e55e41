"""Analysis: class plans and model statements elaborated into one tree, and
everything read off it (totals, summary rows, diff and graph records)."""

from .check import check, check_library
from .elaborate import tiles_for
from .result import Analysis

__all__ = ["Analysis", "check", "check_library", "tiles_for"]
