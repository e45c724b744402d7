"""Where the templates and the zoo specs live, in a checkout and in an installed wheel."""

from __future__ import annotations

import re
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
PROJECT_MARKERS = (".git", "pyproject.toml")
SPEC_SUFFIXES = (".yaml", ".yml")


def bundled_dir(name: str) -> Path:
    """`templates` or `specs`: inside the package when installed, beside it in a checkout."""
    installed = _PACKAGE / name
    return installed if installed.is_dir() else _PACKAGE.parent / name


def zoo_dir() -> Path:
    return bundled_dir("specs")


def templates_dir() -> Path:
    return bundled_dir("templates")


def zoo_names() -> list[str]:
    """Names of the zoo specs, in natural order (resnet18 before resnet101)."""
    return sorted((path.stem for path in zoo_dir().glob("*.yaml")), key=natural_key)


def natural_key(name: str) -> list[str | int]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def zoo_path(name: str) -> Path | None:
    path = zoo_dir() / f"{name}.yaml"
    return path if names_a_spec(name) and path.is_file() else None


def names_a_spec(name: str) -> bool:
    """Whether `name` could be a zoo spec's name at all (not a path, not a pattern)."""
    return re.fullmatch(r"[a-z][a-z0-9_]*", name) is not None


def names_a_file(text: str) -> bool:
    """Whether a spec reference is a file path rather than a spec's name."""
    return text.endswith(SPEC_SUFFIXES) or "/" in text


def is_zoo_file(path: Path) -> bool:
    return path.resolve().parent == zoo_dir().resolve()


def nearest_holding(start: Path, *names: str) -> Path | None:
    """The nearest folder at or above `start` that holds a file or folder named in `names`."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if any((folder / name).exists() for name in names):
            return folder
    return None


def project_root(start: Path) -> Path | None:
    """The repository or Python project `start` is in: the nearest .git or pyproject.toml."""
    return nearest_holding(start, *PROJECT_MARKERS)
