"""The one gate for names that reach generated code: every rule about which
names a spec may give lives here, so `check` succeeds exactly when `generate`
does.

A name becomes a class (a block, a counted arm, the model), an attribute (a
layer, an arm, a nested block), a local variable of `forward` (an arm), or a
constructor parameter (a block's own). Each must be a Python identifier that
does not collide with what the generated module, nn.Module or aihwkit already
mean by it.
"""

from __future__ import annotations

import builtins
import functools
import keyword

from ..codegen.namespace import namespace
from ..errors import Diagnostic, Span
from ..syntax.ir import Model
from .expr import CONSTANTS, FUNCS
from .linker import Program, shipped
from .ops import OPS
from .plan import IMPLICIT, ClassPlan

# Public attributes of torch.nn.Module (torch 2.13) and of aihwkit's analog
# containers; an attribute of that name would replace a method the model needs.
# Every name starting with "_" is refused too, so nn.Module's private state
# (_modules, _parameters, ...) is covered whatever the torch version.
MODULE_ATTRIBUTES = frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children compile
cpu cuda double dump_patches eval extra_repr float forward get_buffer
get_extra_state get_parameter get_submodule half ipu load_state_dict modules mtia
named_buffers named_children named_modules named_parameters parameters
register_backward_hook register_buffer register_forward_hook
register_forward_pre_hook register_full_backward_hook
register_full_backward_pre_hook register_load_state_dict_post_hook
register_load_state_dict_pre_hook register_module register_parameter
register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
set_extra_state set_submodule share_memory state_dict to to_empty train training
type xpu zero_grad
IS_CONTAINER analog_layers analog_modules analog_tile_count analog_tiles
apply_to_analog_layers apply_to_analog_tiles drift_analog_weights
get_analog_tile_devices get_weights named_analog_layers named_analog_modules
named_analog_tiles prepare_for_ddp program_analog_weights remap_analog_weights
replace_rpu_config set_weights unregister_parameter
""".split())
BUILTINS = frozenset(dir(builtins))
IMPLICIT_PYTHON = frozenset(IMPLICIT.values())  # in_channels, out_channels, ...


# Which of the module's names a role may not take (a field of Namespace).
_SCOPE = {
    "class": "everything",
    "model parameter": "everything",
    "parameter": "block_scope",
    "local": "block_scope",
}


@functools.lru_cache(maxsize=4096)  # a pure answer, asked per part of every spec
def problem(name: str, role: str) -> str | None:
    """Why `name` cannot serve as `role`, or None. Roles: a "class" of the module,
    a "parameter" or "local" of a block class, a "model parameter" (of the
    model class and the build functions), an "attribute" of a class."""
    names = namespace()
    scope = _SCOPE.get(role)
    taken = getattr(names, scope) if scope else frozenset()
    if not name.isidentifier():
        return "not a Python name"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return "a Python keyword"
    if name.startswith("_"):
        return "a name starting with '_' (Python and torch keep those)"
    if role in ("class", "parameter", "model parameter") and name in BUILTINS:
        return "a Python builtin"
    if name in taken or (role != "attribute" and name in IMPLICIT_PYTHON):
        return "a name the generated code uses"
    if role == "attribute" and (
        name in MODULE_ATTRIBUTES or name in names.attributes
    ):
        return "the name of an nn.Module method or attribute"
    return None


def let_locals(lets, taken, spec_lets) -> dict[str, str]:
    """Python names for the lets computed from a model parameter, which the
    model's `__init__` and `check_parameters()` compute as locals: the let's
    own name where it hides nothing those functions use (`taken`: the model
    parameters and the module's classes; the names the module writes itself,
    builtins, keywords) and is no other let's name (`spec_lets`: every let),
    else with "_" appended until it is so (and without the leading "_" of a
    name that has one: Python's private names)."""
    names = namespace()
    chosen: dict[str, str] = {}
    used: set[str] = set()
    for name in lets:
        python = name.lstrip("_") or "let"
        while (
            python in used
            or python in taken
            or (python in spec_lets and python != name)
            or python in names.everything
            or python in BUILTINS
            or python in IMPLICIT_PYTHON
            or keyword.iskeyword(python)
            or keyword.issoftkeyword(python)
        ):
            python += "_"
        used.add(python)
        chosen[name] = python
    return chosen


def check_names(program: Program, plans: dict[str, ClassPlan]) -> list[Diagnostic]:
    """Blocks, their parameters, lets, classes and attributes (the model's own
    name: check_model_names)."""
    problems: list[Diagnostic] = []

    def bad(name: str, role: str, what: str, span: Span) -> None:
        why = problem(name, role)
        if why:
            problems.append(
                Diagnostic(f"{what} '{name}' is {why}", span, "choose another name")
            )

    user = {
        n: b for n, b in program.blocks.items() if not shipped(b)
    }
    for let in program.lets:
        if let.name in CONSTANTS or let.name in FUNCS or let.name in IMPLICIT:
            problems.append(
                Diagnostic(
                    f"let name '{let.name}' is a name of the language",
                    let.span,
                    "choose another name",
                )
            )
    for block in user.values():
        bad(block.name, "class", "block name", block.span)
        if block.name in OPS:
            problems.append(
                Diagnostic(
                    f"block name '{block.name}' is a built-in layer",
                    block.span,
                    "choose another name",
                )
            )
        for param in block.params:
            if param.name in CONSTANTS or param.name in FUNCS:
                problems.append(
                    Diagnostic(
                        f"parameter name '{param.name}' is a name of the language",
                        param.span,
                        "choose another name",
                    )
                )
            elif param.name in IMPLICIT:
                problems.append(
                    Diagnostic(
                        f"parameter name '{param.name}' is given by the stage already",
                        param.span,
                        "choose another name",
                    )
                )
            else:
                bad(param.name, "parameter", "parameter name", param.span)
    classes: dict[str, Span] = {}
    for plan in plans.values():
        if plan.block not in user:
            classes.setdefault(plan.name, plan.span)
            continue
        if plan.arm is not None:
            bad(plan.name, "class", f"arm '{plan.arm}' makes a class", plan.span)
        if plan.name in classes and classes[plan.name] != plan.span:
            first = classes[plan.name]
            problems.append(
                Diagnostic(
                    f"two classes would be called {plan.name}",
                    plan.span,
                    f"the other comes from {first.path}:{first.line}; rename an arm "
                    "or a block",
                )
            )
        classes.setdefault(plan.name, plan.span)
        for attribute in plan.attributes:
            if plan.sequential:  # "0", "1", ...: entries of the nn.Sequential
                continue
            own = attribute.role is not None and not attribute.role.inline
            what = "arm name" if own else f"attribute of {plan.name}"
            bad(attribute.name, "attribute", what, attribute.span)
            if own:  # an arm is a local of forward too
                bad(attribute.name, "local", what, attribute.span)
        for name, span in plan.inline:  # an `inline` arm is a local only
            bad(name, "local", "arm name", span)
    # Inside a class, a parameter named like a class would hide it.
    for block in user.values():
        for param in block.params:
            if param.name in classes:
                problems.append(_hidden_class(param))
    return problems


def check_model_names(
    program: Program, plans: dict[str, ClassPlan], model: Model
) -> list[Diagnostic]:
    """The model's name: a class of the module like the blocks' (check_names)."""
    problems: list[Diagnostic] = []
    why = problem(model.name, "class")
    if why:
        problems.append(
            Diagnostic(
                f"model name '{model.name}' clashes with a name the generated "
                f"module uses ({why})",
                model.span,
                "choose another model name",
            )
        )
    if model.name in plans:
        problems.append(
            Diagnostic(
                f"model name '{model.name}' clashes with the class of a block",
                model.span,
                "choose another model name",
            )
        )
    for block in program.blocks.values():
        if not shipped(block):
            problems += [_hidden_class(p) for p in block.params if p.name == model.name]
    return problems


def _hidden_class(param) -> Diagnostic:
    return Diagnostic(
        f"parameter name '{param.name}' is also the name of a class in the "
        "generated module",
        param.span,
        "choose another name",
    )
