"""A command line for a generated header: pasted into a shell, it runs exactly
these words and nothing else."""

from __future__ import annotations

import shlex


def quote(word: str) -> str:
    """One word for a POSIX shell. A word of printable characters is quoted as
    shlex quotes it (`'it'"'"'s'`); a word holding a control or invisible
    character is written in bash's ANSI-C quoting (`$'a\\nb'`, also read by zsh
    and ksh), every such character as its escape, so the line stays one
    printable line and still names the same path."""
    if word.isprintable():
        return shlex.quote(word)
    out = []
    for c in word:
        code = ord(c)
        if c == "\\" or c == "'":
            out.append("\\" + c)
        elif c.isprintable():
            out.append(c)
        elif 0xDC80 <= code <= 0xDCFF:  # an undecodable byte of a file name
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "$'" + "".join(out) + "'"


def command_line(words: list[str] | tuple[str, ...]) -> str:
    return " ".join(quote(w) for w in words)
