"""Unit tests of archgen.semantics.names: the one gate for names that reach
generated code, so that `check` succeeds exactly when `generate` does."""

from __future__ import annotations

import builtins
import keyword

import pytest

import archgen
from archgen.errors import ArchError
from archgen.codegen.namespace import namespace
from archgen.semantics.names import MODULE_ATTRIBUTES, problem

ROLES = ("class", "attribute", "parameter", "local")


# -- problem() --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a-b", "1st", "", "x y", "é-"])
def test_not_a_python_name(name):
    for role in ROLES:
        assert problem(name, role) == "not a Python name"


@pytest.mark.parametrize("name", sorted(keyword.kwlist))
def test_keywords_are_refused_in_every_role(name):
    for role in ROLES:
        assert problem(name, role) == "a Python keyword"


@pytest.mark.parametrize("name", sorted(keyword.softkwlist))
def test_soft_keywords_are_refused(name):
    for role in ROLES:
        assert problem(name, role) is not None


@pytest.mark.parametrize("name", ["_x", "__init__", "_modules", "_parameters"])
def test_a_leading_underscore_is_refused(name):
    for role in ROLES:
        assert "starting with '_'" in problem(name, role)


@pytest.mark.parametrize("name", ["print", "len", "range", "min", "round", "int"])
def test_builtins_cannot_be_classes_or_parameters(name):
    assert name in dir(builtins)
    assert problem(name, "class") == "a Python builtin"
    assert problem(name, "parameter") == "a Python builtin"
    # self.print is harmless: an attribute may carry a builtin's name
    assert problem(name, "attribute") is None


def test_generated_names_cannot_be_classes_parameters_or_locals():
    for name in sorted(namespace().block_scope):
        if keyword.iskeyword(name):
            continue
        for role in ("class", "parameter", "local"):
            assert problem(name, role) is not None, (name, role)
    for name in ("in_channels", "out_channels", "kernel_size", "channels", "x",
                 "out", "outputs", "other", "identity", "self", "rpu_config"):  # fmt: skip
        assert problem(name, "local") == "a name the generated code uses"
    for name in ("build", "build_analog", "nn", "torch", "Tensor", "Shift", "F"):
        assert name in namespace().module_level
        assert problem(name, "class") == "a name the generated code uses"


@pytest.mark.parametrize(
    "name",
    ["forward", "training", "parameters", "cuda", "half", "apply", "children",
     "eval", "train", "state_dict", "to", "type", "analog_tiles",
     "program_analog_weights", "drift_analog_weights"],  # fmt: skip
)
def test_module_attribute_names_cannot_be_attributes(name):
    assert problem(name, "attribute") == (
        "the name of an nn.Module method or attribute"
    )


def test_ordinary_names_pass():
    for name in ("residual", "shortcut", "branch", "Twin", "width", "conv1", "w2"):
        for role in ROLES:
            if name == "Twin" or role != "class":
                assert problem(name, role) is None, (name, role)


# -- cross-check with the real libraries ----------------------------------------------------


def test_module_attributes_cover_torch_nn_module():
    torch = pytest.importorskip("torch")
    public = {n for n in dir(torch.nn.Module()) if not n.startswith("_")}
    assert public, "torch.nn.Module has public names"
    missing = public - MODULE_ATTRIBUTES
    assert not missing, f"nn.Module names archgen would let a spec replace: {missing}"
    for name in public:
        assert problem(name, "attribute") is not None, name


def test_module_attributes_cover_aihwkit_containers():
    container = pytest.importorskip("aihwkit.nn.modules.container")
    base = container.AnalogContainerBase
    public = {n for n in dir(base) if not n.startswith("_")}
    assert "analog_tiles" in public
    missing = public - MODULE_ATTRIBUTES
    assert not missing, f"aihwkit names archgen would let a spec replace: {missing}"


# -- check_names on specs ---------------------------------------------------------------------


def spec(blocks: str, stage: str = "A", name: str = "M") -> str:
    return (
        f"{blocks}model {name} {{\n  input 3x8x8\n  classes 10\n  stem conv3x3 8\n"
        f"  stage 8 {{\n    {stage}\n  }}\n  head avgpool flatten fc\n}}\n"
    )


def errors(text: str) -> ArchError:
    with pytest.raises(ArchError) as info:
        archgen.loads(text, path="names.arch")
    return info.value


def counted(block: str, arm: str, kernel: int) -> str:
    return (
        f"block {block}() {{\n  sum {{\n    {arm} * 2 {{\n      conv({kernel}, out)\n"
        "    }\n  }\n}\n"
    )


def test_two_counted_arms_making_one_class_name():
    """`A` with arm `b_c` and `AB` with arm `c` both make a class `ABC`: the
    generated module could hold only one of them."""
    text = spec(counted("A", "b_c", 1) + counted("AB", "c", 3))
    err = errors(text)
    messages = [d.message for d in err.diagnostics]
    assert any("two classes would be called ABC" in m for m in messages), messages
    diag = next(d for d in err.diagnostics if "ABC" in d.message)
    assert diag.span.path == "names.arch" and diag.span.line in (3, 10)


def test_a_counted_arm_class_named_like_a_block():
    twin = counted("Twin", "path", 1)
    other = "block TwinPath() {\n  conv(3, out)\n  bn\n}\n"
    for blocks in (twin + other, other + twin):
        # both used: today the stage's TwinPath gets the arm's plan
        # ("TwinPath needs '@in'"), or the arm the block's
        err = errors(spec(blocks, stage="Twin\n    TwinPath"))
        messages = [d.message for d in err.diagnostics]
        assert any(
            "two classes would be called TwinPath" in m for m in messages
        ), messages


def test_distinct_arm_classes_are_fine():
    a = archgen.loads(spec(counted("A", "b_c", 1) + counted("AB", "d", 3)))
    assert "ABC" in a.plans and "ABD" in a.plans


def test_a_model_named_like_a_block():
    err = errors(spec(counted("A", "b", 1), name="A"))
    diag = err.diagnostics[0]
    assert "model name 'A' clashes with the class of a block" in diag.message
    assert (diag.span.line, diag.span.column) == (8, 7)
    # a shipped block's class, and a counted arm's class, too
    for name in ("BasicBlock", "AB", "BottleneckBlockResidual"):
        err = errors(spec(counted("A", "b", 1), name=name))
        assert "clashes" in err.diagnostics[0].message, name


@pytest.mark.parametrize("name", ["build", "Tensor", "Shift", "nn", "print"])
def test_a_model_named_like_a_generated_or_builtin_name(name):
    err = errors(spec(counted("A", "b", 1), name=name))
    assert f"model name '{name}' clashes" in err.diagnostics[0].message


@pytest.mark.parametrize(
    "arm", ["forward", "training", "parameters", "cuda", "apply", "children"]
)
def test_arms_named_like_module_methods(arm):
    text = spec(
        f"block A() {{\n  sum {{\n    {arm} {{\n      conv(1, out)\n    }}\n"
        "    s {\n    }\n  }\n}\n"
    )
    diag = errors(text).diagnostics[0]
    assert f"arm name '{arm}'" in diag.message
    assert (diag.span.path, diag.span.line) == ("names.arch", 3)


def test_a_nested_block_call_whose_attribute_would_be_a_method():
    text = spec("block Train() {\n  conv(1, out)\n}\nblock A() {\n  Train\n}\n")
    diag = errors(text).diagnostics[0]
    assert "'train'" in diag.message and "nn.Module" in diag.message
    assert diag.span.line == 5


def test_parameter_names():
    err = errors(spec("block A(channels: int = 2) {\n  conv(1, out * channels)\n"
                      "  conv(1, out)\n}\n"))  # fmt: skip
    assert "parameter name 'channels'" in err.diagnostics[0].message
    err = errors(spec("block A(in: int = 2) {\n  conv(1, out)\n}\n"))
    assert "given by the stage" in err.diagnostics[0].message
    err = errors(spec("block A(len: int = 2) {\n  conv(1, out * len)\n}\n"))
    assert "Python builtin" in err.diagnostics[0].message


def test_block_names():
    err = errors(spec("block conv() {\n  bn\n}\n", stage="conv"))
    assert any("is a built-in layer" in d.message for d in err.diagnostics)
    err = errors(spec("block build() {\n  bn\n}\n", stage="build"))
    assert any("block name 'build'" in d.message for d in err.diagnostics)
