"""A command line for a generated header: pasted into a shell, it runs exactly
these words and nothing else."""

from __future__ import annotations

import os
import shlex


def quote(word: str) -> str:
    """One word for a POSIX shell. A word of printable characters is quoted as
    shlex quotes it (`'it'"'"'s'`); a word holding a control or invisible
    character is written in bash's ANSI-C quoting (`$'a\\nb'`, also read by
    zsh and ksh), each such character as the `\\xHH` escapes of its bytes in
    the file system's encoding, so the line stays one printable line and names
    the same path in any locale."""
    if word.isprintable():
        return shlex.quote(word)
    out = []
    for c in word:
        if c == "\\" or c == "'":
            out.append("\\" + c)
        elif c.isprintable():
            out.append(c)
        else:  # an undecodable byte of a file name comes back as itself
            out.extend(f"\\x{b:02x}" for b in os.fsencode(c))
    return "$'" + "".join(out) + "'"


def command_line(words: list[str] | tuple[str, ...]) -> str:
    return " ".join(quote(w) for w in words)
