"""Names a checkpoint expects (docs/names.md): every name feature gives the
state_dict keys it says, names change no figure, and bad names are located
errors."""

from __future__ import annotations

import pytest
import torch

import archgen
from archgen.errors import ArchError

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")

NAMED = """\
block Fire() {
  conv(1, 4) as squeeze
  relu as squeeze_activation
  cat {
    e1 inline {
      conv(1, out // 2) as expand1x1
      relu as expand1x1_activation
    }
    e3 inline {
      conv(3, out // 2) as expand3x3
      relu as expand3x3_activation
    }
  }
}
block Proj() {
  sum {
    main inline {
      conv(3, out)
      bn
      relu
      conv(3, out)
      bn
    }
    f {
      conv(1, out) as a
      bn as b
    }
  }
  relu
}
model Keys {
  input 3x16x16
  classes 10
  stem as features {
    conv(3, 8) as conv0
    bn as norm0
    relu
  }
  stage 8 as features.block {
    Fire x2 as "fire-{i}"
  }
  stage 16 inline {
    Proj as proj
  }
  stage 16 as layer {
    Proj x2
  }
  stage 16 as layer {
    Proj
  }
  head avgpool flatten dropout as classifier.0 fc as classifier.1
}
"""


def _proj(prefix: str) -> list[str]:
    return [
        f"{prefix}.conv1.weight", *(f"{prefix}.bn1.{t}" for t in BN),
        f"{prefix}.conv2.weight", *(f"{prefix}.bn2.{t}" for t in BN),
        f"{prefix}.f.a.weight", *(f"{prefix}.f.b.{t}" for t in BN),
    ]  # fmt: skip


EXPECTED = [
    "features.conv0.weight",
    *(f"features.norm0.{t}" for t in BN),
    *(
        f"features.block.fire-{i}.{layer}.weight"
        for i in range(2)
        for layer in ("squeeze", "expand1x1", "expand3x3")
    ),
    *_proj("proj"),
    *_proj("layer.0"),
    *_proj("layer.1"),
    *_proj("layer.2"),
    "classifier.1.weight",
    "classifier.1.bias",
]


def test_every_name_feature_gives_its_keys():
    analysis = archgen.loads(NAMED, path="keys.arch")
    model = archgen.build(analysis)
    assert list(model.state_dict()) == EXPECTED
    # the summary's paths are the model's module paths
    modules = dict(model.named_modules())
    assert all(layer.path in modules for layer in analysis.layers)
    assert analysis.params_total == sum(p.numel() for p in model.parameters())
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    source = archgen.render(analysis)
    assert '("fire-0", Fire(8, 8))' in source
    assert "from collections import OrderedDict" in source
    analog = archgen.build(analysis, analog=True, rpu_config=None)
    assert len(list(analog.analog_tiles())) == analysis.tiles


SEQUENTIAL = """\
block ConvBN(groups: int = 1) as sequential {
  conv(kernel, out, stride=stride, groups=groups)
  bn
  relu6
}
block Inverted() {
  sum {
    conv {
      ConvBN(kernel=1, stride=1)
      digital ConvBN(groups=out)
      conv(1, out)
      bn
    }
    shortcut only if stride == 1 and in == out {
    }
  }
}
model Mobile {
  input 3x16x16
  classes 10
  stem as features.0 {
    conv(3, 8, stride=2)
    bn
    relu6
  }
  stage 8 as features {
    Inverted
  }
  stage 16 stride 2 as features {
    ConvBN conv3x3
  }
  head avgpool flatten dropout as classifier.0 fc as classifier.1
}
"""


def test_a_sequential_block_numbers_its_layers():
    """torchvision's Conv2dNormActivation layout: features.0.0,
    features.1.conv.0.0 ... conv.3, features.2.0, classifier.1."""
    analysis = archgen.loads(SEQUENTIAL, path="mobile.arch")
    model = archgen.build(analysis)
    bn = lambda p: [f"{p}.{t}" for t in BN]  # noqa: E731
    assert list(model.state_dict()) == [
        "features.0.0.weight", *bn("features.0.1"),
        "features.1.conv.0.0.weight", *bn("features.1.conv.0.1"),
        "features.1.conv.1.0.weight", *bn("features.1.conv.1.1"),
        "features.1.conv.2.weight", *bn("features.1.conv.3"),
        "features.2.0.weight", *bn("features.2.1"),
        "classifier.1.weight", "classifier.1.bias",
    ]  # fmt: skip
    assert isinstance(model.features[2], torch.nn.Sequential)
    assert analysis.off_crossbars == ("features.1.conv.1",)
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    analog = archgen.build(analysis, analog=True, rpu_config=None)
    assert list(analog.state_dict())[:1] == ["features.0.0.analog_module.analog_ctx"]
    assert "class ConvBN(nn.Sequential):" in archgen.render(analysis)
    assert "class ConvBN(AnalogSequential):" in archgen.render(analysis, target="aihwkit")


LAYOUTS = """\
block BasicConv2d() {
  conv(kernel, out, stride=stride) as conv
  bn as bn
  relu
}
block Mixed() {
  cat {
    branch1x1 inline {
      BasicConv2d(kernel=1, out=8) as branch1x1
    }
    branch3x3 inline {
      BasicConv2d(kernel=1, out=8) as branch3x3_1
      cat {
        a inline {
          BasicConv2d(out=4) as branch3x3_2a
        }
        b inline {
          BasicConv2d(out=4) as branch3x3_2b
        }
      }
    }
  }
}
block DenseLayer() {
  cat {
    prev {
    }
    new inline {
      bn as norm1
      relu as relu1
      conv(1, 16) as conv1
      bn as norm2
      relu as relu2
      conv(3, 4) as conv2
    }
  }
}
block Transition() {
  bn as norm
  relu
  conv(1, out) as conv
  avgpool(2) as pool
}
model V {
  input 3x32x32
  classes 10
  stem as features {
    conv(3, 8) as conv0
    bn as norm0
    relu as relu0
  }
  stage 12 as features.denseblock1 {
    DenseLayer x1 as "denselayer{i + 1}"
  }
  stage 8 as features {
    Transition as transition1
  }
  stage 16 inline {
    Mixed as Mixed_7b
  }
  head relu as features2.norm5 avgpool flatten fc as classifier
}
"""


def test_densenet_and_inception_layouts():
    """Named stem layers in `features`, a stage `as features.denseblock1`
    with an index pattern, a block named into `features`, a block at the
    model's top, `inline` arms holding named calls and an inner `cat`."""
    model = archgen.build(archgen.loads(LAYOUTS, path="layouts.arch"))
    assert [k for k in model.state_dict() if k.endswith("weight")] == [
        "features.conv0.weight", "features.norm0.weight",
        "features.denseblock1.denselayer1.norm1.weight",
        "features.denseblock1.denselayer1.conv1.weight",
        "features.denseblock1.denselayer1.norm2.weight",
        "features.denseblock1.denselayer1.conv2.weight",
        "features.transition1.norm.weight", "features.transition1.conv.weight",
        *(f"Mixed_7b.{arm}.{layer}.weight"
          for arm in ("branch1x1", "branch3x3_1", "branch3x3_2a", "branch3x3_2b")
          for layer in ("conv", "bn")),
        "classifier.weight",
    ]  # fmt: skip
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_names_change_no_figure():
    plain = NAMED
    for old in (' as features.block', ' as "fire-{i}"', " inline {\n    Proj as proj",
                " as layer", " as features", " as classifier.0", " as classifier.1",
                " as conv0", " as norm0"):  # fmt: skip
        plain = plain.replace(old, " {\n    Proj" if "Proj as" in old else "")
    a, b = archgen.loads(NAMED, path="a.arch"), archgen.loads(plain, path="b.arch")
    assert a.totals() == b.totals()
    assert (a.mvms, a.macs_analog, a.params_digital) == (
        b.mvms, b.macs_analog, b.params_digital)  # fmt: skip
    assert [n.op for n in a.layers] == [n.op for n in b.layers]
    assert a.layers[0].path == "features.conv0" and b.layers[0].path == "stem.0"


def test_shipped_keys_do_not_change(root):
    """Without names, today's keys: ResNet32's stem.0 and stage1.0.residual.0."""
    model = archgen.build(archgen.load(str(root / "specs" / "resnet32.arch")))
    keys = list(model.state_dict())
    assert keys[0] == "stem.0.weight"
    assert "stage1.0.residual.0.conv1.weight" in keys
    assert "stage2.0.downsample.0.weight" in keys and keys[-1] == "fc.bias"


def test_digital_takes_named_paths():
    text = NAMED.replace("  head avgpool", "  digital layer.1.conv2 classifier.1\n  head avgpool")
    analysis = archgen.loads(text, path="d.arch")
    assert analysis.off_crossbars == ("layer.1.conv2", "classifier.1")
    source = archgen.render(analysis, target="aihwkit")
    assert "self.layer[1].conv2 = convert_to_digital(self.layer[1].conv2)" in source


def _model(body: str, blocks: str = "") -> str:
    return (
        blocks
        + "model M {\n  input 3x8x8\n  classes 10\n"
        + body
        + "\n  head avgpool flatten fc\n}\n"
    )


BLOCK = "block B() {\n  conv(3, out)\n  bn\n}\n"

HOSTILE = [
    # (spec, message, line)
    (_model("  stem as features {\n    conv(3, 8) as a\n    bn as a\n  }"),
     "'features.a' is given twice", 6),
    (_model("  stem inline {\n    conv(3, 8) as forward\n  }"),
     "'forward' cannot name a part of the model", 5),
    (_model("  stem inline {\n    conv(3, 8) as _secret\n  }"),
     "'_secret' cannot name a part of the model", 5),
    (_model("  stem inline {\n    conv(3, 8) as fc\n  }"), "'fc' is given twice", 7),
    (_model("  stem inline {\n    conv(3, 8) as training\n  }"),
     "'training' cannot name a part of the model", 5),
    (_model("  stem as box {\n    conv(3, 8) as \"a b\"\n  }"),
     "'a b' cannot name an entry of 'box'", 5),
    (_model("  stem as box {\n    conv(3, 8) as \"\\u202e\"\n  }"),
     "cannot name an entry of 'box'", 5),
    (_model("  stem as box {\n    conv(3, 8) as \"\"\n  }"),
     "'' cannot name an entry of 'box'", 5),
    (_model('  stem as box."x.y" {\n    conv(3, 8)\n  }'),
     "'x.y' cannot name an entry of 'box'", 4),
    (_model("  stem as box.1 {\n    conv(3, 8)\n  }"), "'box.1' skips an index", 4),
    (_model("  stem as a.b {\n    conv(3, 8)\n  }\n  stage 8 as c {\n    B\n  }\n"
            "  stage 8 as a {\n    B\n  }", BLOCK), "'a' was left before this part", 14),
    (_model("  stem inline {\n    conv(3, 8) as c\n  }\n  stage 8 as c.d {\n    B\n  }",
            BLOCK), "'c' is a layer or a block: nothing goes inside it", 11),
    (_model("  stem conv3x3 8\n  stage 8 {\n    B x2 as b\n  }", BLOCK),
     "the 2 blocks of this line would have one name", 10),
    (_model("  stem conv3x3 8\n  stage 8 {\n    B x2 as \"b{j}\"\n  }", BLOCK),
     "'b{j}' cannot name an entry", 10),
    (_model("  stem conv3x3 8\n  stage 8 {\n    B as a.b\n  }", BLOCK), "is a path", 10),
    (_model("  stem conv3x3 8 inline\n  stage 8 {\n    B\n  }\n  head avgpool",
            BLOCK), "", 0),  # placeholder, replaced below
    ("block B() {\n  conv(3, out) as a.b\n}\n" + _model("  stem conv3x3 8\n  stage 8 {\n    B\n  }"),
     "'a.b' cannot name a part of a block", 2),
    ("block B() {\n  conv(3, out) as \"c-1\"\n}\n" + _model("  stem conv3x3 8\n  stage 8 {\n    B\n  }"),
     "cannot name a part of a block", 2),
    ("block B() {\n  conv(3, out) as a\n  bn as a\n}\n" + _model("  stem conv3x3 8\n  stage 8 {\n    B\n  }"),
     "'a' names two parts of B", 3),
    ("block B() {\n  conv(3, out) as forward\n}\n" + _model("  stem conv3x3 8\n  stage 8 {\n    B\n  }"),
     "attribute of B 'forward'", 2),
    ("block B() {\n  identity as nothing\n  conv(3, out)\n}\n" + _model("  stem conv3x3 8\n  stage 8 {\n    B\n  }"),
     "'identity' builds no module to name", 2),
    ("block B() {\n  sum {\n    out inline {\n      conv(3, out)\n    }\n    s {\n    }\n  }\n}\n"
     + _model("  stem conv3x3 8\n  stage 8 {\n    B\n  }"), "arm name 'out'", 3),
    ("block B() {\n  sum {\n    a {\n      bn\n    }\n    s {\n    }\n  }\n  sum {\n    a inline {\n      bn\n    }\n    t {\n    }\n  }\n}\n"
     + _model("  stem conv3x3 8\n  stage 8 {\n    B\n  }"), "'a' names two parts of B", 10),
    ("block B() {\n  sum {\n    a inline {\n      sum {\n        a {\n          bn\n        }\n        s {\n        }\n      }\n    }\n    t {\n    }\n  }\n}\n"
     + _model("  stem conv3x3 8\n  stage 8 {\n    B\n  }"), "'a' names two parts of B", 5),
    ("block B() {\n  sum {\n    a * 2 inline {\n      bn\n    }\n    s {\n    }\n  }\n}\n"
     + _model("  stem conv3x3 8\n  stage 8 {\n    B\n  }"), "an `inline` arm cannot be counted", 3),
    ("block B() {\n  sum {\n    a if in == out inline {\n      bn\n    }\n    s {\n    }\n  }\n}\n"
     + _model("  stem conv3x3 8\n  stage 8 {\n    B\n  }"), "an `inline` arm cannot be conditional", 3),
]
HOSTILE += [
    ("block S() as sequential {\n  conv(3, out) as c\n}\n" + _model("  stem conv3x3 8\n  stage 8 {\n    S\n  }"),
     "the layers of a sequential block are numbered", 2),
    ("block S() as sequential {\n  sum {\n    a {\n    }\n  }\n}\n" + _model("  stem conv3x3 8\n  stage 8 {\n    S\n  }"),
     "a sequential block holds layers and block calls, not a sum", 2),
    ("block S() as module {\n  conv(3, out)\n}\n" + _model("  stem conv3x3 8\n  stage 8 {\n    S\n  }"),
     "a block is written `as sequential`", 1),
]
HOSTILE = [case for case in HOSTILE if case[1]]


@pytest.mark.parametrize("text, message, line", HOSTILE)
def test_bad_names_are_located_errors(text, message, line):
    with pytest.raises(ArchError) as err:
        archgen.loads(text, path="bad.arch")
    found = [(d.message, d.span.line) for d in err.value.diagnostics]
    assert any(message in m and at == line for m, at in found), found


def test_a_path_on_a_part_of_an_inline_stem_is_one_error():
    """`conv(3, 8) as conv1.0` in an inline stem: "is a path", and no second
    error about an index put in its stead ("'0' cannot name a part")."""
    text = _model("  stem inline {\n    conv(3, 8) as conv1.0\n    bn as conv1.1\n  }")
    with pytest.raises(ArchError) as err:
        archgen.loads(text, path="bad.arch")
    found = [(d.message, d.span.line) for d in err.value.diagnostics]
    assert found == [("'conv1.0' is a path", 5), ("'conv1.1' is a path", 6)]


def test_an_inline_stem_names_each_layer_its_own_module():
    """At the model's top every layer is a module of its own: activations
    that repeat are numbered, not shared as in a block."""
    text = _model("  stem inline {\n    conv(3, 8)\n    bn\n    relu\n    conv(3, 8)\n"
                  "    relu\n    maxpool(2)\n  }")  # fmt: skip
    analysis = archgen.loads(text, path="stem.arch")
    assert [n.path for n in analysis.root.children][:6] == [
        "conv1", "bn1", "relu1", "conv2", "relu2", "maxpool"]  # fmt: skip
    assert list(archgen.build(analysis).state_dict())[:2] == ["conv1.weight", "bn1.weight"]
