"""NAS throughput: T500-sized candidates through the Python API, in one process,
against building the same candidates with the hand-written `Network(config)`.

Every candidate is a distinct spec, as in a search. Per-spec cost must not grow
with the specs already processed: the first 100 and the last 100 are compared,
and so is the process's memory before and after.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

from common import Figure, median
from handwritten import Network, t500_spec, t500_variants

import archgen

COUNT = 800  # candidates through check; render and build take the first 300


def rss_mib() -> float:
    """The process's resident memory now (Linux; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return 0.0
    return pages * 4096 / 2**20


def timed(step, items) -> list[float]:
    times = []
    for item in items:
        start = time.perf_counter()
        step(item)
        times.append(time.perf_counter() - start)
    return times


def timed_fresh(texts) -> list[float]:
    """loads() of each text with no block instance kept from earlier checks."""
    from archgen.analysis import elaborate

    times = []
    for text in texts:
        with elaborate._shared_lock:
            elaborate._shared.clear()
            elaborate._shared_held = 0
        start = time.perf_counter()
        archgen.loads(text)
        times.append(time.perf_counter() - start)
    return times


def run() -> list[Figure]:
    section = "NAS throughput (Python API)"
    configs = t500_variants(COUNT)
    texts = [t500_spec(c) for c in configs]
    archgen.load(Path(__file__).parents[1] / "specs" / "t500.arch")  # warm imports
    gc.collect()
    before = rss_mib()
    check = timed(archgen.loads, texts)
    gc.collect()
    grown = rss_mib() - before
    fresh = timed_fresh(texts[:300])
    analyses = [archgen.loads(t) for t in texts[:300]]
    render = timed(archgen.render, analyses)
    raw = timed(lambda a: archgen.render(a, format=False), analyses)
    build = timed(archgen.build, analyses)
    hand = timed(Network, configs[:300])
    first, last = median(check[:100]), median(check[-100:])
    rate = 1 / median(check)
    return [
        Figure(section, "check (archgen.loads), specs/s", rate, "specs/s",
               "target", None, 1000, higher_is_better=True),
        Figure(section, "check with no block instance shared from earlier specs, specs/s",
               1 / median(fresh), "specs/s", "target", None, 1000, higher_is_better=True,
               note="the worst case: every block elaborated anew"),
        Figure(section, "check, per-spec time: last 100 vs first 100", last, "s",
               "first 100 specs", first, 1.10,
               note=f"{COUNT} distinct specs; memory grew {grown:+.1f} MiB over them"),
        Figure(section, "render (black layout), per spec", median(render), "s",
               "Network(config)", median(hand)),
        Figure(section, "render(format=False), per spec", median(raw), "s",
               "Network(config)", median(hand)),
        Figure(section, "archgen.build (render + exec + construct), per spec",
               median(build), "s", "Network(config)", median(hand)),
        Figure(section, "build, per-spec time: last 100 vs first 100",
               median(build[-100:]), "s", "first 100", median(build[:100]), 1.10),
    ]  # fmt: skip
