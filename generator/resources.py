"""Where the templates and the zoo specs live, in a checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """`templates` or `specs`: inside the package when installed, beside it in a checkout."""
    installed = _PACKAGE / name
    return installed if installed.is_dir() else _PACKAGE.parent / name


def zoo_dir() -> Path:
    return bundled_dir("specs")


def templates_dir() -> Path:
    return bundled_dir("templates")


def zoo_names() -> list[str]:
    return sorted(path.stem for path in zoo_dir().glob("*.yaml"))


def zoo_path(name: str) -> Path | None:
    path = zoo_dir() / f"{name}.yaml"
    return path if name in zoo_names() else None
