"""Problems found in a spec, each pointing at the line that caused it."""

from __future__ import annotations

from dataclasses import dataclass

FieldPath = tuple[str | int, ...]
Finding = tuple[FieldPath, str]  # the field to change, and what is wrong


@dataclass(frozen=True, order=True)
class Location:
    """A position in a spec file; line 0 stands for the file as a whole."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}" if self.line else self.file


@dataclass(frozen=True)
class Problem:
    location: Location
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{self.location}: {where}{self.message}"


class SpecError(Exception):
    """One or more problems in a spec; each is reported on its own line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems), key=lambda p: (p.location, p.field, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


class PlanError(Exception):
    """A spec whose fields are each fine but whose network cannot be built as given."""

    def __init__(self, problems: list[Finding]) -> None:
        self.problems = problems
        super().__init__("; ".join(message for _, message in problems))


def describe(value: object, limit: int = 40) -> str:
    """A short, single-line rendering of a user's value for an error message."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def entries(count: int) -> str:
    return f"{count} entry" if count == 1 else f"{count} entries"


def dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path)
