"""Hypothesis strategies for valid .arch specs, shared by the property tests."""

from __future__ import annotations

from hypothesis import strategies as st

WIDTHS = st.sampled_from([8, 16, 24, 32, 48, 64])


@st.composite
def block_lines(draw) -> str:
    kind = draw(st.sampled_from(["BasicBlock", "BottleneckBlock"]))
    parts = [kind]
    if draw(st.booleans()):
        k = draw(st.sampled_from([1, 3, 5]))
        parts.append(f"conv{k}x{k}")
    options = []
    if draw(st.booleans()):
        options.append(f"branches {draw(st.integers(1, 3))}")
    if kind == "BottleneckBlock" and draw(st.booleans()):
        options.append(f"reduction {draw(st.sampled_from([1, 2, 4]))}")
    parts += draw(st.permutations(options))
    count = draw(st.integers(1, 3))
    if count > 1 or draw(st.booleans()):
        parts.append(f"x{count}")
    return " ".join(parts)


@st.composite
def specs(draw, name: str | None = None) -> str:
    """A valid spec text, with comments and odd spacing here and there."""
    name = name or draw(st.sampled_from(["Net", "Candidate", "T1", "Baseline"]))
    size = draw(st.sampled_from([8, 16, 32]))
    lines = [f"model {name} {{"]
    if draw(st.booleans()):
        lines.insert(0, "# a generated spec")
    head_items = [f"  input 3x{size}x{size}", "  classes 10"]
    lines += draw(st.permutations(head_items))
    k = draw(st.sampled_from([1, 3, 5, 7]))
    stem = f"  stem conv{k}x{k} {draw(WIDTHS)}"
    if draw(st.booleans()):
        stem += f" stride {draw(st.integers(1, 2))}"
    if draw(st.booleans()):
        stem += "   # the stem"
    lines.append(stem)
    for _ in range(draw(st.integers(0, 3))):
        stage = f"  stage {draw(WIDTHS)}"
        if draw(st.booleans()):
            stage += f" stride {draw(st.integers(1, 2))}"
        lines.append(stage + " {")
        for _ in range(draw(st.integers(1, 2))):
            lines.append("    " + draw(block_lines()))
        lines.append("  }")
        if draw(st.booleans()):
            lines.append("")
    lines.append("  head avgpool flatten fc")
    lines.append("}")
    return "\n".join(lines) + "\n"
