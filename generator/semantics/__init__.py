"""Semantics: linking, names, expressions, ops and the class plans of blocks."""
