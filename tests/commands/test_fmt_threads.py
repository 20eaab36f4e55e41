"""`archgen fmt` from two threads at once: the file being formatted (its path and
source, for errors) is passed down, never kept in a module global, so each
thread's results are its own."""

from __future__ import annotations

import sys
import threading

from archgen.commands.fmt import format_source
from archgen.errors import ArchError

ROUNDS = 400
# Per thread: a messy spec it formats, and one whose overlong number stops fmt
# (the error names the file and quotes its line).
FILES = {
    "first.arch": (
        "model A {\n input 3x8x8\n   stage 8 {\n BasicBlock x2\n}\n}\n",
        "let a = 1\nlet b = 99999999999999999999\n",
    ),
    "second.arch": (
        "block B(n: int = 1) {\n conv(3,   out)\n   sum {\n  p * n {\n }\n }\n}\n",
        "model B {\n  input 3x8x8\n  classes 123456789012345678901234\n}\n",
    ),
}


def outcome(text: str, path: str) -> str:
    try:
        return format_source(text, path)
    except ArchError as err:
        return "error: " + err.render()


def test_two_threads_formatting_different_files_get_their_own_results():
    expected = {
        path: [outcome(text, path) for text in texts] for path, texts in FILES.items()
    }
    assert all(e.startswith("error: ") for _, e in expected.values())
    assert all(path in e for path, (_, e) in expected.items())
    start = threading.Barrier(len(FILES))
    got: dict[str, list[list[str]]] = {path: [] for path in FILES}

    def work(path: str) -> None:
        start.wait()
        for _ in range(ROUNDS):
            got[path].append([outcome(text, path) for text in FILES[path]])

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as CPython will
    try:
        threads = [threading.Thread(target=work, args=(path,)) for path in FILES]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    for path in FILES:
        assert len(got[path]) == ROUNDS
        wrong = [g for g in got[path] if g != expected[path]]
        assert not wrong, (path, wrong[0])
