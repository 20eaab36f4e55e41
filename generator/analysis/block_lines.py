"""One block line of a stage (`KIND conv3x3 branches 2`): its
options bound and typed, what it does not use warned about, the instance
elaborated, and its record for diff and graph."""

from __future__ import annotations

import functools

from ..errors import Span, did_you_mean
from ..semantics.ops import OPS, size_text
from ..semantics.plan import IMPLICIT
from ..syntax.ir import BlockCall
from .elaborate import Failed
from .result import BlockInstance, block_record
from .tree import Node, Shape


class BlockLines:
    """A ModelElaborator's block lines (model.py)."""

    def block(
        self,
        path: str,
        call: BlockCall,
        shape: Shape | None,
        out: int,
        stride: int,
        stage,
        first_copy: bool,
    ) -> tuple[Node, BlockInstance] | None:
        """One block of a stage and its record; None when its input is unknown."""
        block = self.program.blocks.get(call.kind)
        if block is None:
            self.fail(
                f"unknown block '{call.kind}'",
                call.span,
                did_you_mean(call.kind, [*self.program.blocks, *OPS])
                or f"known blocks: {', '.join(self.program.blocks)}",
            )
        plan = self.plans.get(call.kind)
        if plan is None:
            raise Failed  # the definition's problems are reported on their own
        if call.kernel is not None:
            self.written_kernel(call.kernel, call.kernel_span)
        params = {p.name: p for p in block.params}
        given: dict[str, object] = {}
        for option in call.options:
            if option.name in IMPLICIT:
                hint = {
                    "kernel": f"write the kernel as a word before the options: `{call.kind} conv5x5`",
                    "stride": "the stride belongs to the stage: `stage 32 stride 2 { ... }`",
                    "out": "the output width belongs to the stage: `stage 32 { ... }`",
                    "in": "the input width is the width that flows into the block",
                }[option.name]
                self.fail(
                    f"unknown option '{option.name}' for {call.kind}", option.span, hint
                )
            if option.name not in params:
                self.fail(
                    f"unknown option '{option.name}' for {call.kind}",
                    option.span,
                    did_you_mean(option.name, params)
                    or f"{call.kind} takes: {', '.join(params) or 'no options'}",
                )
            self.fixed(option.value, f"option '{option.name}'")
            value = self.value(option.value, self.lets)
            given[option.name] = self.typed_param(
                value, params[option.name].type, option.name, option.span
            )
        kernel = 3 if call.kernel is None else call.kernel
        if first_copy:
            if stride != 1 and plan.param("stride") is None:  # the stage's first
                self.warn(
                    f"{call.kind} does not use `stride`: the stage's stride {stride} "
                    "has no effect",
                    stage.stride.span,
                    f"use `stride` in {call.kind}'s layers, or drop the stage's stride",
                )
            if call.kernel is not None and plan.param("kernel") is None:
                self.warn(
                    f"{call.kind} does not use `kernel`: conv{size_text(kernel)} has no "
                    "effect",
                    call.kernel_span,
                )
            for option in call.options:
                if plan.param(option.name) is None:
                    self.warn(
                        f"{call.kind} does not use its option '{option.name}': "
                        f"`{option.name} ...` has no effect",
                        option.span,
                    )
        if shape is None:
            return None
        implicit = {"in": shape[0], "out": out, "kernel": kernel, "stride": stride}
        args = {
            p.name: implicit[p.name] if p.name in implicit else given[p.name]
            for p in plan.params
            if p.name in implicit or p.name in given
        }
        self.site = call.span
        try:
            options = self.options(block, {**implicit, **given}, call.span)
            node = self.instance(plan, args, path, shape, call.span)
        finally:
            self.site = None
        if len(node.out_shape) == 3 and node.out_shape[0] != out:
            self.fail(
                f"{call.kind} gives {node.out_shape[0]} channels, but the stage is "
                f"{out} wide",
                call.span,
                "end the block with a layer of `out` channels, or change the stage's width",
            )
        record = functools.partial(block_record, node, plan, options, kernel, stride,
                                   call.span.line, self.kept_digital(path))  # fmt: skip
        return node, record

    def options(self, block, given: dict, span: Span) -> tuple:
        """Every parameter of a block line, defaults filled in (for diff); a
        default sees the lets, the implicit names and the parameters before it."""
        env = {**self.lets, **{k: v for k, v in given.items() if k in IMPLICIT}}
        for param in block.params:
            if param.name in given:
                env[param.name] = given[param.name]
                continue
            if param.default is None:
                self.fail(
                    f"{block.name} needs '{param.name}'",
                    span,
                    f"give it on the block line, like `{param.name} 2`",
                )
            value = self.value(param.default, env)
            env[param.name] = self.typed_param(value, param.type, param.name, span)
        return tuple((p.name, env[p.name]) for p in block.params)
