"""The language that grows: user-defined blocks, lets, includes, digital marks."""

import importlib

import pytest
from conftest import ROOT

from archgen.options import Options
from archgen.analysis import check
from archgen.commands.cli import main
from archgen.errors import ArchError
from archgen.syntax.lower import parse, parse_file

TWIN = """block Twin(branches: int = 2) {
  sum {
    path * branches {
      conv(kernel, out, stride=stride)
      bn
    }
    shortcut if stride != 1 or in != out {
      conv(1, out, stride=stride)
      bn
    }
  }
  relu
}
"""


def model(body: str, blocks: str = "", lets: str = "") -> str:
    return f"{lets}{blocks}model M {{\n  input 3x16x16\n  classes 10\n{body}\n  head avgpool flatten fc\n}}\n"


def analyse(source: str, path: str = "spec.arch"):
    return check(parse(source, path))


def first_error(source: str, path: str = "spec.arch"):
    with pytest.raises(ArchError) as info:
        analyse(source, path)
    return info.value.diagnostics[0], info.value.render()


# -- user-defined blocks -------------------------------------------------------------


def test_a_user_block_counts_like_torch(tmp_path, monkeypatch):
    source = model(
        "  stem conv3x3 8\n  stage 16 stride 2 {\n    Twin conv3x3 branches 3 x2\n  }",
        TWIN,
    )
    a = analyse(source)
    # per block: 3 branches of conv3x3 + BN, the shortcut only where the shape changes
    first = 3 * (8 * 9 * 16 + 32) + (8 * 16 + 32)
    second = 3 * (16 * 9 * 16 + 32)
    assert a.params_total == (3 * 9 * 8 + 16) + first + second + (16 * 10 + 10)
    spec = tmp_path / "twin.arch"
    spec.write_text(source)
    assert main([str(spec), "-o", str(tmp_path / "g1"), "--target", "all"]) == 0
    monkeypatch.syspath_prepend(str(tmp_path))
    torch = pytest.importorskip("torch")
    module = importlib.import_module("g1.twin")
    net = module.build().eval()
    assert sum(p.numel() for p in net.parameters()) == a.params_total
    for layer in a.layers:
        assert (
            sum(p.numel() for p in net.get_submodule(layer.path).parameters())
            == layer.params
        )
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    text = (tmp_path / "g1" / "twin.py").read_text()
    # one class per user block, named after it, and one per counted arm; a straight forward
    assert "class Twin(nn.Module):" in text and "class TwinPath(nn.Module):" in text
    assert "outputs = [branch(x) for branch in self.path]" in text
    assert "identity = x\n        if self.shortcut is not None:" in text
    analog = importlib.import_module("g1.twin_aihwkit").build()
    assert len(list(analog.analog_tiles())) == a.tiles


def test_a_size_parameter_takes_one_number_or_one_per_side(tmp_path, monkeypatch):
    """`padding: size`: a block passes torchvision's per-side padding on
    (Inception's 1x7 convs, padded (0, 3)); the class annotates it."""
    blocks = (
        "block P(padding: size = 0) {\n  conv(kernel, out, padding=padding) as conv\n}\n"
        "block Q() {\n  P(kernel=(1, 7), padding=(0, 3))\n  P(kernel=3, padding=1)\n}\n"
    )
    source = model("  stage 8 {\n    P conv1x7 padding (0, 3)\n    P\n    Q\n  }", blocks)
    a = analyse(source)
    shapes = [(layer.path, layer.out_shape) for layer in a.layers if layer.op == "conv"]
    assert shapes == [
        ("stage1.0.conv", (8, 16, 16)),  # (0, 3): 'same' for 1x7
        ("stage1.1.conv", (8, 14, 14)),  # the default, 0
        ("stage1.2.p1.conv", (8, 14, 14)),
        ("stage1.2.p2.conv", (8, 14, 14)),
    ]
    spec = tmp_path / "sized.arch"
    spec.write_text(source)
    assert main([str(spec), "-o", str(tmp_path / "gsize")]) == 0
    text = (tmp_path / "gsize" / "sized.py").read_text()
    assert "padding: int | tuple[int, int] = 0" in text
    assert "kernel_size=(1, 7), padding=(0, 3)" in text
    monkeypatch.syspath_prepend(str(tmp_path))
    torch = pytest.importorskip("torch")
    net = importlib.import_module("gsize.sized").build().eval()
    assert net(torch.randn(1, 3, 16, 16)).shape == (1, 10)
    assert net.stage1[0].conv.padding == (0, 3)


def test_blocks_may_use_blocks():
    blocks = TWIN + "block Pair() {\n  Twin\n  Twin(stride=1, branches=1)\n}\n"
    a = analyse(model("  stage 8 stride 2 {\n    Pair\n  }", blocks))
    paths = [layer.path for layer in a.layers if layer.op == "conv"]
    assert paths[:3] == [
        "stage1.0.twin1.path.0.conv1",
        "stage1.0.twin1.path.1.conv1",
        "stage1.0.twin1.shortcut.0",
    ]
    assert "stage1.0.twin2.path.0.conv1" in paths
    assert a.kinds == ("Twin", "Pair")  # callees before callers


def test_the_shipped_blocks_are_library_code():
    library = (ROOT / "generator" / "library" / "resnet.arch").read_text()
    assert "block BasicBlock(" in library and "block BottleneckBlock(" in library
    stages = ("semantics", "analysis", "codegen")
    for module in sorted(
        p for s in stages for p in (ROOT / "generator" / s).glob("*.py")
    ):
        text = module.read_text()
        assert "BasicBlock" not in text and "BottleneckBlock" not in text, module


ERRORS = {
    "unknown option": (
        model("  stage 8 {\n    Twin brnches 2\n  }", TWIN),
        (18, 10),
        "unknown option 'brnches' for Twin",
        "did you mean 'branches'",
    ),
    "wrong type": (
        model("  stage 8 {\n    Twin branches 1.5\n  }", TWIN),
        (18, 10),
        "'branches' is an int, got 1.5",
        "whole number",
    ),
    "missing argument": (
        model(
            "  stage 8 {\n    Needs\n  }",
            "block Needs(width: int) {\n  conv(1, width)\n}\n",
        ),
        (8, 5),
        "Needs needs 'width'",
        "on the block line, like `width 2`",
    ),
    "recursion": (
        model("  stage 8 {\n    A\n  }", "block A() {\n  B\n}\nblock B() {\n  A\n}\n"),
        (1, 7),
        "block 'A' uses itself: A -> B -> A",
        None,
    ),
    "unknown name": (
        model("  stage 8 {\n    K\n  }", "block K() {\n  conv(kernal, out)\n}\n"),
        (2, 8),
        "unknown name 'kernal'",
        "did you mean 'kernel'",
    ),
    "unknown layer argument": (
        model("  stage 8 {\n    K\n  }", "block K() {\n  conv(3, out, strid=2)\n}\n"),
        (2, 16),
        "unknown argument 'strid' for conv",
        "did you mean 'stride'",
    ),
    "arms of different shapes": (
        model(
            "  stage 8 stride 2 {\n    K\n  }",
            "block K() {\n  sum {\n    a {\n      conv(3, out, stride=stride)\n    }\n    b {\n    }\n  }\n}\n",
        ),
        (2, 3),
        "the arms of this sum give different shapes",
        None,
    ),
    "duplicate block": (
        model("  stage 8 {\n    Twin\n  }", TWIN + TWIN),
        (14, 7),
        "duplicate block 'Twin'",
        "first defined at",
    ),
    "library name taken": (
        model("  stage 8 {\n    BasicBlock\n  }", "block BasicBlock() {\n  bn\n}\n"),
        (1, 7),
        "duplicate block 'BasicBlock'",
        "resnet.arch",
    ),
    "unknown type": (
        model("  stage 8 {\n    T\n  }", "block T(w: str = 1) {\n  bn\n}\n"),
        (1, 9),
        "unknown type 'str'",
        None,
    ),
    "not a size": (
        model("  stage 8 {\n    P padding 0.5\n  }", "block P(padding: size = 0) {\n  conv(3, out, padding=padding)\n}\n"),
        (8, 7),
        "'padding' is a size, got 0.5",
        "one per side, like `padding (0, 3)`",
    ),
    "unknown block in a body": (
        model("  stage 8 {\n    K\n  }", "block K() {\n  Twn\n}\n" + TWIN),
        (2, 3),
        "unknown layer or block 'Twn'",
        "did you mean 'Twin'",
    ),
    "unknown digital path": (
        model("  stem conv3x3 8\n  digital stemm"),
        (5, 11),
        "nothing called 'stemm' to keep digital",
        "did you mean 'stem'",
    ),
    "unknown let": (
        model("  stem conv3x3 widht", "", "let width = 8\n"),
        (5, 16),
        "unknown name 'widht'",
        "did you mean 'width'",
    ),
    "division by zero": (
        model("  stem conv3x3 8 // 0"),
        (4, 16),
        "division by zero",
        None,
    ),
    "fractional channels": (
        model("  stem conv3x3 width / 3", "", "let width = 8\n"),
        (5, 16),
        "must be a whole number",
        "//",
    ),
}


@pytest.mark.parametrize("name", ERRORS)
def test_misuse_is_located(name):
    source, (line, column), message, hint = ERRORS[name]
    diag, text = first_error(source)
    assert (diag.span.line, diag.span.column) == (line, column), text
    assert message in diag.message, text
    if hint:
        assert hint in (diag.hint or ""), text


def test_error_inside_a_library_block_points_at_the_users_line():
    diag, text = first_error(
        model("  stage 8 {\n    BottleneckBlock reduction 16\n  }")
    )
    assert diag.span.path == "spec.arch" and diag.span.line == 5
    assert diag.message.startswith("in BottleneckBlock: ")
    assert (
        "<archgen>/resnet.arch" in diag.hint
        and "conv(1, out // reduction)" in diag.hint
    )


# -- lets and arithmetic -----------------------------------------------------------------


def test_lets_and_arithmetic_write_a_family_once():
    lets = "let width = 16\nlet depth = 2\n"
    a = analyse(
        model(
            "  stem conv3x3 width\n  stage width * 2 stride 2 {\n    BasicBlock branches (depth // 2) x2\n  }",
            "",
            lets,
        )
    )
    assert a.stages[0].channels == 32 and a.stages[0].blocks[0].branches == 1
    b = analyse(
        model("  stem conv3x3 16\n  stage 32 stride 2 {\n    BasicBlock x2\n  }")
    )
    assert a.totals() == b.totals()


def test_an_option_expression_needs_parentheses():
    diag, text = first_error(model("  stage 8 {\n    BasicBlock branches 4 // 2\n  }"))
    assert "in parentheses" in diag.message, text


def test_floats_round_and_precedence():
    lets = "let f = 0.6\nlet c = round(48 // f)\nlet d = 2 + 3 * 4 - (1 + 1)\n"
    a = analyse(model("  stem conv3x3 c\n  stage d {\n    BasicBlock\n  }", "", lets))
    assert a.values["c"] == int(round(48 // 0.6)) and a.values["d"] == 12


# -- includes ------------------------------------------------------------------------------


def test_use_resolves_relative_to_the_including_file(tmp_path):
    (tmp_path / "blocks").mkdir()
    (tmp_path / "blocks" / "twin.arch").write_text(TWIN + "let width = 8\n")
    (tmp_path / "specs").mkdir()
    spec = tmp_path / "specs" / "net.arch"
    spec.write_text(
        'use "../blocks/twin.arch"\n' + model("  stage width {\n    Twin\n  }")
    )
    with pytest.raises(ArchError, match="outside the spec's folder"):
        check(parse_file(str(spec)))  # a sibling folder needs -I
    a = check(
        parse_file(str(spec)),
        Options.from_environment(include=(str(tmp_path / "blocks"),)),
    )
    assert a.stages[0].blocks[0].kind == "Twin" and a.stages[0].channels == 8


def test_include_cycle_is_reported(tmp_path):
    (tmp_path / "a.arch").write_text('use "b.arch"\n')
    (tmp_path / "b.arch").write_text('use "a.arch"\n')
    spec = tmp_path / "net.arch"
    spec.write_text('use "a.arch"\n' + model("  stem conv3x3 8"))
    with pytest.raises(ArchError) as info:
        check(parse_file(str(spec)))
    diag = info.value.diagnostics[0]
    assert (
        diag.message.startswith("include cycle: ") and diag.message.count("a.arch") == 2
    )
    assert diag.span.path.endswith("b.arch") and diag.span.line == 1


def test_missing_include_and_included_model(tmp_path):
    spec = tmp_path / "net.arch"
    spec.write_text('use "nope.arch"\n' + model("  stem conv3x3 8"))
    with pytest.raises(ArchError, match="cannot find 'nope.arch'"):
        check(parse_file(str(spec)))
    (tmp_path / "other.arch").write_text(model("  stem conv3x3 8"))
    spec.write_text('use "other.arch"\n' + model("  stem conv3x3 8"))
    with pytest.raises(ArchError, match="defines a model"):
        check(parse_file(str(spec)))


# -- analog placement ------------------------------------------------------------------------


def test_digital_marks_change_tiles_and_stay_digital(tmp_path, monkeypatch):
    text = (
        (ROOT / "specs" / "resnet32.arch")
        .read_text()
        .replace(
            "  head avgpool flatten fc\n",
            "  head avgpool flatten fc\n  digital stem fc stage2.0\n",
        )
    )
    spec = tmp_path / "mixed.arch"
    spec.write_text(text)
    base, mixed = check(parse_file(str(ROOT / "specs" / "resnet32.arch"))), check(
        parse_file(str(spec))
    )
    stage2_0 = [
        layer
        for layer in base.layers
        if layer.path.startswith("stage2.0.") and layer.op == "conv"
    ]
    assert mixed.tiles == base.tiles - 2 - len(stage2_0)
    assert mixed.params_analog == base.params_analog - 432 - 650 - sum(
        layer.params for layer in stage2_0
    )
    assert mixed.params_total == base.params_total
    assert main([str(spec), "-o", str(tmp_path / "g2"), "--target", "all"]) == 0
    monkeypatch.syspath_prepend(str(tmp_path))
    torch = pytest.importorskip("torch")
    for net in (
        importlib.import_module("g2.mixed").build_analog(),
        importlib.import_module("g2.mixed_aihwkit").build(),
    ):
        assert type(net.stem[0]) is torch.nn.Conv2d and type(net.fc) is torch.nn.Linear
        assert type(net.get_submodule("stage2.0.residual.0.conv1")) is torch.nn.Conv2d
        assert (
            type(net.get_submodule("stage2.1.residual.0.conv1")).__name__
            == "AnalogConv2d"
        )
        assert len(list(net.analog_tiles())) == mixed.tiles
        net.eval()
        net.program_analog_weights()
        assert net(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_shipped_library_files_are_formatted():
    from archgen.commands.fmt import format_source

    for path in sorted((ROOT / "generator" / "library").glob("*.arch")):
        assert format_source(path.read_text()) == path.read_text(), path.name


def test_activations_and_pad(tmp_path, monkeypatch):
    blocks = "block Act() {\n  pad(1)\n  conv(3, out, padding=0)\n  bn\n  gelu\n  conv(3, out)\n  bn\n  sigmoid\n}\n"
    source = model("  stem conv3x3 8\n  stage 16 {\n    Act\n  }", blocks).replace(
        "head avgpool flatten fc", "head avgpool flatten fc 32 silu fc"
    )
    a = analyse(source)
    spec = tmp_path / "act.arch"
    spec.write_text(source)
    assert main([str(spec), "-o", str(tmp_path / "g3")]) == 0
    monkeypatch.syspath_prepend(str(tmp_path))
    torch = pytest.importorskip("torch")
    net = importlib.import_module("g3.act").build().eval()
    assert sum(p.numel() for p in net.parameters()) == a.params_total
    assert (
        type(net.stage1[0].gelu) is torch.nn.GELU
        and type(net.stage1[0].pad) is torch.nn.ZeroPad2d
    )
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_a_cat_of_halves_reads_as_out_channels(tmp_path):
    spec = tmp_path / "fr.arch"
    spec.write_text(
        'use "analognas.arch"\n'
        + model("  stem conv3x3 8\n  stage 16 {\n    AnalogNASBlock\n  }")
    )
    assert main([str(spec), "-o", str(tmp_path / "g4")]) == 0
    text = (tmp_path / "g4" / "fr.py").read_text()
    assert "self.bn1 = nn.BatchNorm2d(out_channels)" in text
    assert "out = torch.cat([path1, path2], dim=1)" in text


def test_unused_blocks_and_library_files_are_checked(tmp_path, capsys):
    lib = tmp_path / "lib.arch"
    lib.write_text("block U() {\n  conv(kernel, nosuch)\n  frobnicate\n}\nlet w = 8\n")
    assert main(["check", str(lib)]) == 1
    err = capsys.readouterr().err
    assert f"{lib}:2:16: error: unknown name 'nosuch'" in err
    assert f"{lib}:3:3: error: unknown layer or block 'frobnicate'" in err
    assert main(["check", str(ROOT / "generator" / "library")]) == 0
    assert "resnet.arch: ok: 2 block(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "blocks, message",
    [
        (
            "block B() {\n  conv(kernel, out)\n  sum {\n    conv1 {\n      conv(1, out)\n    }\n    b {\n    }\n  }\n}\n",
            "'conv1' names two parts of B",
        ),
        (
            "block B(lambda: int = 1) {\n  bn\n}\n",
            "parameter name 'lambda' is a Python keyword",
        ),
        (
            "block B(in_channels: int = 1) {\n  bn\n}\n",
            "is a name the generated code uses",
        ),
        (
            "block Shift() {\n  bn\n}\n",
            "block name 'Shift' is a name the generated code uses",
        ),
        ("block B(range: int = 1) {\n  bn\n}\n", "is a Python builtin"),
    ],
)
def test_names_the_generated_python_cannot_carry(blocks, message):
    diag, text = first_error(model("  stage 8 {\n    B\n  }", blocks))
    assert message in diag.message, text


def test_generated_code_matches_the_checker_on_tricky_blocks(tmp_path, monkeypatch):
    """Lets named like parameters, comparisons of comparisons, activations in a row."""
    blocks = (
        "block B(expand: int = 2) {\n  conv(1, in * expand)\n  bn\n  sigmoid\n  relu\n"
        "  sum {\n    p if (stride == 1) == (in == out) {\n      conv(1, in * expand)\n    }\n"
        "    q {\n    }\n  }\n  conv(1, out)\n}\n"
    )
    source = model(
        "  stem conv3x3 8\n  stage 16 stride 2 {\n    B\n  }\n  stage 16 {\n    B\n  }",
        blocks,
        "let expand = 10\n",
    )
    a = analyse(source)
    spec = tmp_path / "tricky.arch"
    spec.write_text(source)
    assert main([str(spec), "-o", str(tmp_path / "g6")]) == 0
    monkeypatch.syspath_prepend(str(tmp_path))
    torch = pytest.importorskip("torch")
    net = importlib.import_module("g6.tricky").build()
    assert sum(p.numel() for p in net.parameters()) == a.params_total
    out = net(torch.randn(2, 3, 16, 16))
    out.sum().backward()  # no in-place activation broke autograd


def test_fractional_widths_are_refused():
    diag, text = first_error(
        model("  stage 8 {\n    K\n  }", "block K() {\n  conv(kernel, out / 2)\n}\n")
    )
    assert "whole number, got 4.0" in diag.message and "//" in diag.hint, text


def test_flatten_inside_a_block_needs_a_pooled_map():
    diag, text = first_error(
        model(
            "  stage 8 {\n    K\n  }",
            "block K() {\n  avgpool(2)\n  flatten\n  fc(out)\n}\n",
        )
    )
    assert "flatten inside a block needs a 1x1 map" in diag.message, text


def test_include_paths_are_normalised(tmp_path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "a.arch").write_text('use "b.arch"\n')
    (tmp_path / "inc" / "b.arch").write_text('use "../inc/a.arch"\n')
    spec = tmp_path / "net.arch"
    spec.write_text('use "inc/a.arch"\n' + model("  stem conv3x3 8"))
    with pytest.raises(ArchError, match="include cycle"):
        check(parse_file(str(spec)))
    (tmp_path / "common.arch").write_text("let w = 8\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.arch").write_text('use "../common.arch"\n')
    spec.write_text('use "common.arch"\nuse "sub/x.arch"\n' + model("  stem conv3x3 w"))
    assert check(parse_file(str(spec))).layers[0].out_channels == 8


def test_grouped_convs_must_stay_digital_and_then_build(tmp_path, monkeypatch):
    blocks = "block Dw() {\n  conv(3, in, groups=in)\n  bn\n  conv(1, out)\n  bn\n  relu\n}\n"
    source = model("  stem conv3x3 8\n  stage 16 {\n    Dw x2\n  }", blocks)
    diag, text = first_error(source)
    assert (
        "only convs with groups=1" in diag.message and "digital stage1.0" in diag.hint
    ), text
    kept = source.replace(
        "  head avgpool flatten fc\n", "  head avgpool flatten fc\n  digital stage1\n"
    )
    a = analyse(kept)
    spec = tmp_path / "dw.arch"
    spec.write_text(kept)
    assert main([str(spec), "-o", str(tmp_path / "g7"), "--target", "all"]) == 0
    monkeypatch.syspath_prepend(str(tmp_path))
    torch = pytest.importorskip("torch")
    for net in (
        importlib.import_module("g7.dw").build_analog(),
        importlib.import_module("g7.dw_aihwkit").build(),
    ):
        assert (
            type(net.stage1[1].conv1) is torch.nn.Conv2d
            and net.stage1[1].conv1.groups == 16
        )
        assert len(list(net.analog_tiles())) == a.tiles == 2  # stem and fc
        net.eval()
        net.program_analog_weights()
        assert net(torch.randn(1, 3, 16, 16)).shape == (1, 10)


def test_a_block_must_end_at_the_stage_width():
    diag, text = first_error(
        model("  stage 16 {\n    K\n  }", "block K() {\n  conv(3, out * 2)\n}\n")
    )
    assert diag.message == "K gives 32 channels, but the stage is 16 wide", text
    assert (diag.span.line, diag.span.column) == (8, 5)


@pytest.mark.parametrize(
    "written, meant",
    [("Conv2d", "conv"), ("BatchNorm2d", "bn"), ("ReLU", "relu"), ("Linear", "fc")],
)
def test_pytorch_habits_get_the_archgen_name(written, meant):
    diag, text = first_error(
        model("  stage 8 {\n    K\n  }", f"block K() {{\n  {written}\n}}\n")
    )
    assert (
        diag.message == f"unknown layer or block '{written}'"
        and f"did you mean '{meant}'" in diag.hint
    ), text
