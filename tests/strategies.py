"""Hypothesis strategies for valid .arch specs, shared by the property tests."""

from __future__ import annotations

import re

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
        stride = draw(st.integers(1, 2))
        stem += f" stride {stride}"
        size //= stride
    if draw(st.booleans()):
        stem += "   # the stem"
    lines.append(stem)
    for _ in range(draw(st.integers(0, 3))):
        stage = f"  stage {draw(WIDTHS)}"
        if draw(st.booleans()):
            # a stride larger than the map is an error: these specs are valid
            stride = draw(st.integers(1, 2)) if size > 1 else 1
            stage += f" stride {stride}"
            size = -(-size // stride)
        lines.append(stage + " {")
        for _ in range(draw(st.integers(1, 2))):
            lines.append("    " + draw(block_lines()))
        lines.append("  }")
        if draw(st.booleans()):
            lines.append("")
    lines.append("  head avgpool flatten fc")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- specs covering the whole language (for the differential property) -------------
#
# `full_specs()` draws whole specs that use every construct of the language: lets
# and expressions, `use`, user blocks with int/float/bool parameters (defaults,
# computed defaults), `sum` and `cat` groups, counted arms `name * n`, conditional
# arms `name if cond`, `only if` arms, empty arms, sections `name if cond { }`,
# nested block calls with keyword arguments, every layer op, `digital` marks and
# `digital` layers in blocks, stem lines and stem bodies and the head variants.
# They are built to be mostly valid (widths and strides are kept consistent by
# construction) with deliberate slips now and then: whether they check or not,
# the differential property (tests/test_differential.py) holds for them.

ACTIVATION_OPS = ["relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "hardswish"]
ARM_NAMES = ["residual", "path", "left", "right", "mix", "extra", "wide", "narrow"]
SHORTCUT_NAMES = ["shortcut", "skip", "downsample", "proj"]


class _Body:
    """Lines of a block body being written, with the indentation of the current group."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 1

    def add(self, line: str) -> None:
        self.lines.append("  " * self.depth + line)

    def open(self, line: str) -> None:
        self.add(line + " {")
        self.depth += 1

    def close(self) -> None:
        self.depth -= 1
        self.add("}")


class _Block:
    def __init__(self, name: str) -> None:
        self.name = name
        self.params: dict[str, str] = {}  # name -> type
        self.grouped = False  # has a conv with groups > 1: must be kept digital
        self.uses_stride = False
        self.text = ""
        self.sections = 0


def _preserving(draw, body: _Body, block: _Block, channels: str) -> None:
    """0-2 layers that keep the shape (channels `channels`, the current width)."""
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(
            st.sampled_from(
                [
                    "bn",
                    "act",
                    "act",
                    "identity",
                    "shift",
                    "pool",
                    "conv",
                    "pad",
                    "group",
                    "section",
                ]
            )
        )
        if kind == "bn":
            body.add(draw(st.sampled_from(["bn", "bn", "bn(eps=0.001, momentum=0.01)"])))
        elif kind == "act":
            body.add(draw(st.sampled_from(ACTIVATION_OPS)))
        elif kind in ("identity", "shift"):
            body.add(kind)
        elif kind == "pool":
            op = draw(st.sampled_from(["avgpool", "maxpool"]))
            body.add(
                draw(
                    st.sampled_from(
                        [
                            f"{op}(3, stride=1, padding=1)",
                            f"{op}(3, stride=1, padding=1, ceil=true)",
                            f"{op}((1, 3), stride=1, padding=(0, 1))",
                            f"{op}(1)",
                            f"{op}(1, stride=1)",
                        ]
                    )
                )
            )
        elif kind == "conv":
            extra = draw(
                st.sampled_from(["", ", bias=true", ", padding=1", ", stride=1"])
            )
            sizes = [1, 3, "(1, 3)", "(3, 1)"]
            k = 3 if extra == ", padding=1" else draw(st.sampled_from(sizes))
            body.add(f"conv({k}, {channels}{extra})")
        elif kind == "pad":
            body.add(f"pad({draw(st.sampled_from([1, 2]))})")
            amount = int(body.lines[-1].strip()[4])
            body.add(f"conv({2 * amount + 1}, {channels}, padding=0)")
        elif kind == "group" and channels in ("in", "out"):
            g = draw(st.sampled_from([2, 4, channels]))
            if draw(st.booleans()):
                body.add(f"digital conv(3, {channels}, groups={g})")
            else:
                body.add(f"conv(3, {channels}, groups={g})")
                block.grouped = True
        elif kind == "section" and body.depth == 1:  # sections hold layers only
            block.sections += 1
            conditions = ["in == out", "in > 4", "out != 8"]
            if "use" in block.params:
                conditions.append("use")
            condition = draw(st.sampled_from(conditions + [""]))
            body.open(
                f"sec{block.sections}" + (f" if {condition}" if condition else "")
            )
            body.add(f"conv(1, {channels})")
            if draw(st.booleans()):
                body.add("bn")
            body.close()


def _width(draw, block: _Block, lets: dict[str, str]) -> str:
    """An expression for a channel width inside a block."""
    options = ["out", "out * 2", "out // 2", "max(out // 2, 4)", "out - out // 2", "in"]
    if "r" in block.params:
        options += ["out // r", "out * r"]
    if "e" in block.params:
        options += ["round(out * e)", "int(out * e) + 1"]
    if "m" in block.params:
        options += ["m * 4"]
    if "w" in lets:
        options += ["w", "min(w, out)"]
    return draw(st.sampled_from(options))


def _stride_arg(draw, block: _Block, strided: bool) -> str:
    if not strided:
        return draw(st.sampled_from(["", "", ", stride=1"]))
    block.uses_stride = True
    return ", stride=stride"


def _to_out(draw, body: _Body, block: _Block, lets, strided: bool) -> None:
    """Layers taking the current input to `out` channels (strided if asked)."""
    k = draw(st.sampled_from(["kernel", "kernel", "1", "3"]))
    if draw(st.booleans()):
        mid = _width(draw, block, lets)
        body.add(f"conv({k}, {mid}{_stride_arg(draw, block, strided)})")
        _preserving(draw, body, block, mid)
        body.add(f"conv({draw(st.sampled_from(['kernel', '1']))}, out)")
    elif draw(st.integers(0, 7)) == 0:  # keyword arguments only
        args = [f"kernel={k}", "out=out"] + (["stride=stride"] if strided else [])
        block.uses_stride |= strided
        body.add(f"conv({', '.join(draw(st.permutations(args)))})")
    else:
        bias = draw(st.sampled_from(["", "", ", bias=true"]))
        kept = "digital " if draw(st.integers(0, 5)) == 0 else ""
        body.add(f"{kept}conv({k}, out{_stride_arg(draw, block, strided)}{bias})")
    _preserving(draw, body, block, "out")


def _call(draw, inner: _Block, strided: bool, out: str | None = None) -> str:
    """A call of another block; keyword arguments now and then."""
    kwargs = []
    if out is not None:
        kwargs.append(f"out={out}")
    if not strided:
        kwargs.append("stride=1")
    if draw(st.booleans()):
        kwargs.append(f"kernel={draw(st.sampled_from([1, 3, 5]))}")
    for param, kind in inner.params.items():
        if draw(st.booleans()):
            value = {"int": "2", "float": "1.5", "bool": "true"}[kind]
            kwargs.append(f"{param}={value}")
    kwargs = draw(st.permutations(kwargs))
    if not kwargs and draw(st.booleans()):
        return inner.name
    return f"{inner.name}({', '.join(kwargs)})"


def _group(draw, body: _Body, block: _Block, inners: list[_Block], lets) -> None:
    """A `sum` or `cat` group taking `in` to `out` (cat: followed by a 1x1 conv)."""
    kind = draw(st.sampled_from(["sum", "sum", "cat"]))
    strided = draw(st.booleans()) if kind == "sum" else draw(st.booleans())
    body.open(kind)
    names = draw(st.permutations(ARM_NAMES))
    arms = draw(st.integers(1, 3))
    for i in range(arms):
        name = names[i]
        form = draw(
            st.sampled_from(["plain", "counted", "counted", "call", "cond", "only"])
        )
        if form == "call" and not inners:
            form = "plain"
        if form == "counted":
            count = draw(st.sampled_from(["2", "1", "branches", "(branches + 1)", "3"]))
            if "branches" in count and "branches" not in block.params:
                count = "2"
            condition = ""
            if draw(st.integers(0, 5)) == 0:
                condition = " if in == out"
            body.open(f"{name} * {count}{condition}")
        elif form == "cond":
            condition = draw(
                st.sampled_from(["in != out", "in != out and out > 4", "not in == out"])
            )
            if "use" in block.params and draw(st.booleans()):
                condition = draw(
                    st.sampled_from(["use", "not use", "use or in != out"])
                )
            body.open(f"{name} if {condition}")
        elif form == "only":
            condition = draw(st.sampled_from(["in != out", "in == out", "out > 8"]))
            body.open(f"{name} only if {condition}")
        else:
            body.open(name)
        if form == "call":
            body.add(_call(draw, draw(st.sampled_from(inners)), strided))
        elif kind == "sum":
            _to_out(draw, body, block, lets, strided)
        else:
            width = _width(draw, block, lets)
            body.add(
                f"conv({draw(st.sampled_from(['1', 'kernel']))}, {width}{_stride_arg(draw, block, strided)})"
            )
            _preserving(draw, body, block, width)
        body.close()
    # the identity arm: an empty arm (or a shortcut taken when the shape changes)
    shortcut = draw(st.sampled_from(SHORTCUT_NAMES))
    choice = draw(
        st.sampled_from(["downsample", "downsample", "empty", "none", "only"])
    )
    if choice == "downsample" or (kind == "cat" and choice == "none" and arms == 1):
        condition = "stride != 1 or in != out" if strided else "in != out"
        body.open(f"{shortcut} if {condition}")
        body.add(f"conv(1, out{_stride_arg(draw, block, strided)})")
        if draw(st.booleans()):
            body.add("bn")
        body.close()
    elif choice == "empty":
        body.open(shortcut)
        body.close()
    elif choice == "only" and kind == "sum":  # the input, where shapes allow
        condition = "stride == 1 and in == out" if strided else "in == out"
        body.open(f"{shortcut} only if {condition}")
        body.close()
    body.close()
    if kind == "cat":
        if draw(st.booleans()):
            body.add("bn")
        body.add("conv(1, out)")


def _block(draw, name: str, inners: list[_Block], lets: dict[str, str]) -> _Block:
    block = _Block(name)
    pool = draw(
        st.sets(st.sampled_from(["branches", "r", "e", "use", "m"]), max_size=3)
    )
    params = []
    for param in ["branches", "r", "e", "use", "m"]:
        if param not in pool:
            continue
        if param == "branches":
            params.append(f"branches: int = {draw(st.sampled_from([1, 2]))}")
            block.params[param] = "int"
        elif param == "r":
            params.append(f"r: int = {draw(st.sampled_from(['2', '4', 'max(2, 1)']))}")
            block.params[param] = "int"
        elif param == "e":
            params.append(f"e: float = {draw(st.sampled_from(['0.5', '1.5', '2.0']))}")
            block.params[param] = "float"
        elif param == "use":
            params.append(f"use: bool = {draw(st.sampled_from(['true', 'false']))}")
            block.params[param] = "bool"
        elif param == "m":
            default = (
                "r * 2"
                if "r" in block.params
                else draw(st.sampled_from(["2", "out // 4"]))
            )
            params.append(f"m: int = {default}")  # a computed default
            block.params[param] = "int"
    body = _Body()
    _preserving(draw, body, block, "in")
    shape = draw(st.sampled_from(["plain", "group", "group", "group", "nested"]))
    if shape == "nested" and not inners:
        shape = "group"
    if shape == "plain":
        _to_out(draw, body, block, lets, draw(st.booleans()))
    elif shape == "group":
        _group(draw, body, block, inners, lets)
    else:
        inner = draw(st.sampled_from(inners))
        strided = draw(st.booleans())
        width = draw(st.sampled_from(["out * 2", "out", "out // 2"]))
        body.add(_call(draw, inner, strided, out=width))
        _preserving(draw, body, block, width)
        body.add(_call(draw, inner, False, out="out"))
        block.uses_stride |= strided
        block.grouped |= inner.grouped
    for inner in inners:
        if any(inner.name in line for line in body.lines):
            block.grouped |= inner.grouped
            block.uses_stride = True  # a call passes stride on unless told otherwise
    _preserving(draw, body, block, "out")
    header = f"block {name}({', '.join(params)}) {{"
    block.text = "\n".join([header, *body.lines, "}"]) + "\n"
    return block


def _option_value(draw, kind: str, lets: dict[str, str]) -> str:
    if kind == "bool":
        return draw(st.sampled_from(["true", "false"]))
    if kind == "float":
        return draw(
            st.sampled_from(
                ["1.5", "0.5", "(1.0 + 0.5)"] + (["e"] if "e" in lets else [])
            )
        )
    ints = (
        ["1", "2", "3"]
        + (["r"] if "r" in lets else [])
        + (["(r + 1)"] if "r" in lets else [])
    )
    return draw(st.sampled_from(ints))


def _stem(draw, lets, digital: list[str]) -> list[str]:
    width = draw(st.sampled_from(["8", "16", "w"] if "w" in lets else ["8", "16"]))
    if draw(st.integers(0, 2)) > 0:
        k = draw(st.sampled_from([1, 3, 5]))
        line = f"  stem conv{k}x{k} {width}"
        if draw(st.booleans()):
            line += f" stride {draw(st.sampled_from([1, 2]))}"
        if draw(st.integers(0, 4)) == 0:
            digital.append(draw(st.sampled_from(["stem", "stem.0"])))
        return [line]
    lines = ["  stem {"]
    items = [f"conv(3, {width})"]
    for _ in range(draw(st.integers(0, 4))):
        item = draw(
            st.sampled_from(
                ["bn", "act", "identity", "shift", "pad", "pool", "conv", "conv"]
            )
        )
        if item == "act":
            items.append(draw(st.sampled_from(ACTIVATION_OPS)))
        elif item == "pad":
            items += ["pad(1)", f"conv(3, {width}, padding=0)"]
        elif item == "pool":
            items.append(
                draw(st.sampled_from(["maxpool(3, stride=2, padding=1)", "avgpool(2)"]))
            )
        elif item == "conv":
            items.append(
                draw(
                    st.sampled_from(
                        [f"conv(1, {width}, bias=true)", f"conv(3, {width}, stride=2)"]
                    )
                )
            )
        else:
            items.append(item)
    lines += [f"    {item}" for item in items] + ["  }"]
    if draw(st.integers(0, 4)) == 0:
        digital.append("stem")
    return lines


@st.composite
def full_specs(draw, name: str = "Net") -> str:
    """A whole spec; most of them check (see the module comment above)."""
    out: list[str] = []
    if draw(st.booleans()):
        out.append("# a generated spec")
    kinds: dict[str, _Block | None] = {"BasicBlock": None, "BottleneckBlock": None}
    if draw(st.integers(0, 5)) == 0:
        out.append('use "analognas.arch"')
        kinds["AnalogNASBlock"] = None
    lets: dict[str, str] = {}
    if draw(st.booleans()):
        out.append(
            f"let w = {draw(st.sampled_from(['8', '16', '4 * 4', 'max(8, 12)']))}"
        )
        lets["w"] = "int"
        if draw(st.booleans()):
            out.append("let w2 = w * 2")
            lets["w2"] = "int"
    if draw(st.booleans()):
        out.append(f"let r = {draw(st.sampled_from(['2', '1 + 1', '8 // 4']))}")
        lets["r"] = "int"
    if draw(st.booleans()):
        out.append(f"let e = {draw(st.sampled_from(['1.5', '0.5', '3 / 2']))}")
        lets["e"] = "float"
    inners: list[_Block] = []
    blocks: list[_Block] = []
    for i in range(draw(st.integers(0, 2))):
        inners.append(_block(draw, ["Inner", "Core"][i], [], lets))
    for i in range(draw(st.integers(1 if inners else 0, 2))):
        blocks.append(_block(draw, ["Cell", "Unit"][i], inners, lets))
    for block in [*inners, *blocks]:
        out.append(block.text.rstrip("\n"))
        kinds[block.name] = block
    tail = draw(st.integers(0, 5)) == 0  # a block that ends in a classifier
    if tail:
        pool = draw(st.sampled_from(["avgpool", "maxpool"]))
        hidden = draw(st.sampled_from(["out * 2", "16"]))
        bias = draw(st.sampled_from(["", ", bias=false", ", bias=true"]))
        out.append(
            f"block Tail() {{\n  {pool}\n  flatten\n  fc({hidden}{bias})\n"
            f"  {draw(st.sampled_from(ACTIVATION_OPS))}\n  fc(out)\n}}"
        )
    size = draw(st.sampled_from([8, 16]))
    out.append(f"model {name} {{")
    model_lines = [f"  input {draw(st.sampled_from([3, 1]))}x{size}x{size}"]
    with_classes = draw(st.integers(0, 3)) > 0
    if with_classes:
        model_lines.append(f"  classes {draw(st.sampled_from(['10', '5 * 2']))}")
    model_lines = draw(st.permutations(model_lines))
    digital: list[str] = []
    model_lines += _stem(draw, lets, digital)
    widths = (
        ["8", "16", "24"]
        + (["w", "w * 2"] if "w" in lets else [])
        + (["w2"] if "w2" in lets else [])
    )
    n_stages = draw(st.integers(1, 3))
    for s in range(1, n_stages + 1):
        stage = f"  stage {draw(st.sampled_from(widths))}"
        if draw(st.booleans()):
            stage += f" stride {draw(st.sampled_from(['2', '2', '1']))}"
        model_lines.append(stage + " {")
        index = 0
        for _ in range(draw(st.integers(1, 2))):
            user = [k for k, b in kinds.items() if b is not None]
            kind = draw(st.sampled_from(user * 3 + list(kinds)))
            block = kinds[kind]
            parts = [kind]
            if draw(st.booleans()):
                k = draw(st.sampled_from([1, 3, 5]))
                parts.append(f"conv{k}x{k}")
            params = (
                dict(block.params)
                if block
                else {
                    "BasicBlock": {"branches": "int"},
                    "BottleneckBlock": {"branches": "int", "reduction": "int"},
                    "AnalogNASBlock": {"branches": "int"},
                }[kind]
            )
            for param, ptype in params.items():
                if draw(st.integers(0, 2)) == 0:
                    parts.append(f"{param} {_option_value(draw, ptype, lets)}")
            repeat = draw(st.integers(1, 2))
            if repeat > 1 or draw(st.integers(0, 3)) == 0:
                parts.append(f"x{repeat}")
            model_lines.append("    " + " ".join(parts))
            if block is not None and block.grouped:
                if draw(st.integers(0, 3)) > 0:
                    digital += [f"stage{s}.{index + i}" for i in range(repeat)]
                elif draw(st.booleans()):
                    digital.append(f"stage{s}")
            elif draw(st.integers(0, 9)) == 0:
                digital.append(f"stage{s}.{index}")
            index += repeat
        if tail and s == n_stages:
            model_lines.append("    Tail")
            if draw(st.integers(0, 3)) == 0:
                digital.append(f"stage{s}.{index}")
        model_lines.append("  }")
    head = draw(
        st.sampled_from(
            [
                "avgpool flatten fc",
                "maxpool flatten fc",
                "avgpool flatten fc 32 relu fc",
                "avgpool relu flatten fc",
                "avgpool(2, stride=2) flatten fc",
                "maxpool(2) flatten fc",
                "flatten fc",
            ]
        )
    )
    if tail:  # the input of the head is flat
        head = draw(st.sampled_from(["fc", "relu fc", "fc 32 relu fc"]))
    if not with_classes:
        head += " 10"
    model_lines.append(f"  head {head}")
    if "fc 32" in head and draw(st.booleans()):
        digital.append(draw(st.sampled_from(["fc1", "fc2"])))
    elif draw(st.integers(0, 4)) == 0 and "fc 32" not in head:
        digital.append("fc")
    digital = list(dict.fromkeys(digital))
    if digital:
        model_lines.append("  digital " + " ".join(digital))
    out += model_lines + ["}"]
    # A model parameter now and then: `w` where no block reads it.
    blocks_text = "".join(b.text for b in [*inners, *blocks])
    if "w" in lets and not re.search(r"\bw\b", blocks_text) and draw(st.booleans()):
        out = [re.sub(r"^let w = ", "param w = ", line) for line in out]
    return "\n".join(out) + "\n"
