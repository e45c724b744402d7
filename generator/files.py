"""Writing generated files: all or nothing, atomically, never over someone's work.

A file is replaced only if resnetgen wrote it and nobody edited it since (its header
records a hash of its body), unless the user forces it. Every target is checked
before the first byte is written, and each write goes to a temporary file in the same
directory that then replaces the target, so a failure leaves no half-written file.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .provenance import provenance_state


@dataclass(frozen=True)
class Output:
    path: Path
    text: str

    def current(self) -> str | None:
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            return ""

    def diff(self) -> str:
        """A unified diff from the file on disk to what it should be; empty when up to date."""
        current = self.current()
        if current == self.text:
            return ""
        before = (current or "").splitlines(keepends=True)
        after = self.text.splitlines(keepends=True)
        label = str(self.path)
        old_label = label if current is not None else "/dev/null"
        return "".join(difflib.unified_diff(before, after, old_label, label))


@dataclass(frozen=True)
class Refusal:
    message: str
    forceable: bool = True


class WriteRefused(Exception):
    def __init__(self, refusals: list[Refusal]) -> None:
        self.refusals = refusals
        super().__init__("\n".join(r.message for r in refusals))


def refusal(output: Output) -> Refusal | None:
    """Why `output` may not be written (without --force, if forceable), or None."""
    if output.path.is_dir():
        return Refusal(f"{output.path}: is a directory", forceable=False)
    current = output.current()
    if current is None or current == output.text:
        return None
    state = provenance_state(current)
    if state == "foreign":
        return Refusal(
            f"{output.path}: exists and was not written by resnetgen; --force replaces it"
        )
    if state == "edited":
        return Refusal(
            f"{output.path}: was edited by hand since it was generated; --force replaces it"
        )
    return None


def write_all(outputs: list[Output], force: bool = False) -> list[tuple[Output, bool]]:
    """Write every output or none; returns each output with whether it changed on disk."""
    refusals = [r for r in map(refusal, outputs) if r is not None]
    blocking = [r for r in refusals if not (force and r.forceable)]
    if blocking:
        raise WriteRefused(blocking)
    results = []
    for output in outputs:
        changed = output.current() != output.text
        if changed:
            write_atomic(output.path, output.text)
        results.append((output, changed))
    return results


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
