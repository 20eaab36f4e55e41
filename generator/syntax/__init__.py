"""Syntax: .arch text -> Lark tree -> the spec's IR (ir.py), with located errors."""
