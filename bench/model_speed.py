"""Generated model speed: the generated ResNet32 and T500 against the hand-written
`Network(config)`, interleaved in one process (so both see the same machine
state), as the median of the per-round time ratios."""

from __future__ import annotations

import statistics
import time

import torch
from common import Figure, median
from handwritten import RESNET32, T500, Network

THREADS = 1  # one thread: a busy second core then slows both models alike
BATCH = 64
# Rounds per pair: the shared machine's noise moves one round's ratio by a few
# percent, as much as the 1.02 target; the median of 41 is steady to about 1%.
ROUNDS = 41
ANALOG_BATCH = 16


def forward(model, x):
    with torch.no_grad():
        model(x)


def train_step(model, x, y, optimizer):
    optimizer.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()


def ratio(step_a, step_b, rounds: int) -> tuple[float, float, float]:
    """Median of time(a)/time(b) over rounds (each round runs both, in turns
    first), and the median times. The rounds' spread goes to `spread`."""
    for _ in range(2):  # warm-up: allocator, kernels
        step_a(), step_b()
    ratios, times_a, times_b = [], [], []
    for i in range(rounds):
        pair = [(step_a, times_a), (step_b, times_b)]
        for step, times in pair if i % 2 == 0 else pair[::-1]:
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        ratios.append(times_a[-1] / times_b[-1])
    quartiles = statistics.quantiles(ratios, n=4)
    spread.append(f"rounds' ratios {quartiles[0]:.3f}-{quartiles[2]:.3f} (quartiles)")
    return median(ratios), median(times_a), median(times_b)


spread: list[str] = []  # the last ratio()'s quartiles, for the figure's note


def pair(name: str, models, anchor: str, target: float | None) -> list[Figure]:
    """Forward (eval, no_grad) and a training step of models[0] against
    models[1], on the same batch, interleaved."""
    torch.manual_seed(0)
    x = torch.randn(BATCH, 3, 32, 32)
    y = torch.randint(0, 10, (BATCH,))
    a, b = models
    a.eval(), b.eval()
    r, ta, tb = ratio(lambda: forward(a, x), lambda: forward(b, x), ROUNDS)
    figures = [
        Figure("generated model speed", f"{name} forward (eval, no_grad, batch {BATCH})",
               ta, "s", anchor, tb, target, paired_ratio=r, note=spread[-1]),
    ]  # fmt: skip
    opt_a, opt_b = (
        torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9) for m in models
    )
    a.train(), b.train()
    r, ta, tb = ratio(
        lambda: train_step(a, x, y, opt_a), lambda: train_step(b, x, y, opt_b), ROUNDS
    )
    figures.append(
        Figure("generated model speed", f"{name} train step (SGD, batch {BATCH})",
               ta, "s", anchor, tb, target, paired_ratio=r, note=spread[-1])
    )  # fmt: skip
    return figures


def analog(name: str, module, config: dict, rounds: int) -> list[Figure]:
    """The aihwkit rendering against convert_to_analog of the hand-written model,
    with the same rpu_config (archgen's preset)."""
    from aihwkit.nn.conversion import convert_to_analog

    rpu_config = module.default_rpu_config()
    aihwkit_module = __import__(f"generated.{name.lower()}_aihwkit", fromlist=["build"])
    start = time.perf_counter()
    rendered = aihwkit_module.build(rpu_config)
    built = time.perf_counter() - start
    start = time.perf_counter()
    converted = convert_to_analog(Network(config), rpu_config)
    converted_time = time.perf_counter() - start
    for model in (rendered, converted):
        model.eval()
    x = torch.randn(ANALOG_BATCH, 3, 32, 32)
    r, a, b = ratio(lambda: forward(rendered, x), lambda: forward(converted, x), rounds)
    return [
        Figure("generated model speed", f"{name} aihwkit rendering, forward (eval)", a,
               "s", "convert_to_analog(hand-written)", b, 1.02, paired_ratio=r,
               note=f"batch {ANALOG_BATCH}: aihwkit's tiles are slow; {spread[-1]}"),
        Figure("generated model speed", f"{name} aihwkit rendering, construction",
               built, "s", "convert_to_analog(hand-written)", converted_time),
    ]  # fmt: skip


def run() -> list[Figure]:
    import generated.resnet32
    import generated.t500

    torch.set_num_threads(THREADS)
    figures = []
    for name, module, config in (
        ("ResNet32", generated.resnet32, RESNET32),
        ("T500", generated.t500, T500),
    ):
        figures += pair(name, (module.build(), Network(config)), "hand-written", 1.02)
        # What writing the blocks' sums and ReLUs out of place (as the generated
        # blocks did before they worked in place) costs hand-written code.
        out_of_place = Network({**config, "inplace": False})
        figures += pair(f"{name} hand-written out of place,", (out_of_place,
                        Network(config)), "hand-written (in place)", None)  # fmt: skip
        figures += analog(name, module, config, ROUNDS // 3)
    return figures
