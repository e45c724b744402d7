"""Opening a checkpoint safely: its tensors by name and shape, without running any of it.

A `.pth`, `.pt`, `.pth.tar`, `.bin` or `.ckpt` file is a pickle: it is opened only by
`torch.load(weights_only=True)`, memory-mapped where its format allows, which builds
tensors and plain containers and refuses everything else; what it refused is named from
the pickle's opcodes, read as data and never run. A `.safetensors` file is read by its
header, held to the file's size before anything is taken from it; its tensors are mapped
from the file when they are asked for. A model folder (HF style) is `config.json` beside
its weights, one file or shards listed by an index; the config is data, and nothing in
the folder is imported or run.
"""

from __future__ import annotations

import io
import json
import math
import mmap
import pickletools
import re
import struct
import warnings
import zipfile
from argparse import Namespace
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TORCH_SUFFIXES = (".pth.tar", ".pth", ".pt", ".bin", ".ckpt")
SAFETENSORS_SUFFIX = ".safetensors"
MAX_HEADER = 100 * 2**20  # safetensors' own bound on a header
MAX_CONFIG = 2**20
# safetensors' dtypes, their torch names and sizes in bytes
DTYPES = {
    "F64": ("float64", 8),
    "F32": ("float32", 4),
    "F16": ("float16", 2),
    "BF16": ("bfloat16", 2),
    "I64": ("int64", 8),
    "I32": ("int32", 4),
    "I16": ("int16", 2),
    "I8": ("int8", 1),
    "U8": ("uint8", 1),
    "BOOL": ("bool", 1),
}
# HF folders: the weights of one file, or the index of its shards, in the order looked for
FOLDER_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
FOLDER_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
DOTTED = re.compile(r"^[A-Za-z_][\w.]{0,120}$")


class CheckpointError(Exception):
    """A path that holds no checkpoint the reader takes; the message is one line."""


@dataclass(frozen=True)
class Stored:
    """One tensor of a checkpoint: its shape and dtype now, its values when asked for."""

    shape: tuple[int, ...]
    dtype: str
    read: Callable[[], Any]


@dataclass(frozen=True)
class Opened:
    """What a path holds: the object its weights are in, and a folder's config."""

    content: Any  # the unpickled object, or {name: Stored} of a safetensors file
    config: dict[str, Any] | None  # a folder's config.json
    files: tuple[Path, ...]  # the files the weights came from
    arguments: bool = False  # a training run's arguments (an argparse.Namespace) are in it


def is_checkpoint_path(argument: str) -> bool:
    """Whether a command-line argument names a checkpoint rather than a reference."""
    path = Path(argument)
    return (
        path.exists()
        or path.is_symlink()
        or argument.endswith((*TORCH_SUFFIXES, SAFETENSORS_SUFFIX))
    )


def open_checkpoint(path: Path) -> Opened:
    """What `path` holds, or CheckpointError saying why it holds nothing readable."""
    if path.is_symlink() and not path.exists():
        raise CheckpointError("a link to nothing")
    if path.is_dir():
        return _open_folder(path)
    if not path.is_file():
        raise CheckpointError("no such file or folder")
    if path.stat().st_size == 0:
        raise CheckpointError("an empty file")
    if path.name.endswith(SAFETENSORS_SUFFIX):
        return Opened(read_safetensors(path), None, (path,))
    content = read_torch_file(path)
    return Opened(content, None, (path,), arguments=_holds(content, Namespace))


# Torch files ------------------------------------------------------------------------------


def _holds(content: Any, kind: type) -> bool:
    """Whether an object of `kind` is among the values of `content` (a container)."""
    values = content.values() if isinstance(content, dict) else ()
    return any(isinstance(value, kind) for value in values)


def read_torch_file(path: Path) -> Any:
    """The object a torch file holds, through torch.load(weights_only=True) alone."""
    import torch

    if not _starts_a_checkpoint(path):
        raise CheckpointError("not a checkpoint (neither torch's zip format nor a pickle)")
    for mapped in (True, False):  # torch's old format cannot be mapped
        try:
            # A training run's arguments (timm's and torchvision's scripts keep them) are
            # plain data: the one object but tensors and containers that is read.
            with warnings.catch_warnings(), torch.serialization.safe_globals([Namespace]):
                warnings.simplefilter("ignore")
                return torch.load(path, map_location="cpu", weights_only=True, mmap=mapped)
        except Exception as error:  # the file's fault, whatever torch calls it
            refused = "weights only" in str(error).lower()
            if refused:
                raise CheckpointError(_refusal(path)) from None
            if mapped and "mmap" in str(error):
                continue
            raise CheckpointError("a truncated or corrupt checkpoint") from None
    raise AssertionError("unreachable")


def _starts_a_checkpoint(path: Path) -> bool:
    """Whether the file opens as torch's zip format or a pickle (protocol 2 or later)."""
    with path.open("rb") as handle:
        start = handle.read(4)
    return start == b"PK\x03\x04" or start[:1] == b"\x80"


def _refusal(path: Path) -> str:
    """Why weights_only refused the file, from the globals its pickle would call."""
    names = pickle_globals(path)
    modules = [name for name in names if name.startswith("torch.nn.modules.")]
    if modules:
        return (
            "a pickled model (an nn.Module), not its weights; save model.state_dict() "
            "instead: torch.save(model.state_dict(), PATH)"
        )
    unsafe = next((name for name in names if not name.startswith(("torch.", "collections."))), None)
    shown = unsafe if unsafe and DOTTED.match(unsafe) else "an object of its own"
    return (
        f"a pickle that would call {shown} when loaded; only tensors and plain containers "
        "are read, and nothing of it was run"
    )


def pickle_globals(path: Path) -> list[str]:
    """The globals (module.name) the pickles of a torch file refer to, read from their
    opcodes without running them."""
    blobs: list[bytes] = []
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            blobs = [archive.read(n) for n in archive.namelist() if n.endswith(".pkl")][:4]
    else:
        blobs = [path.read_bytes()[: 64 * 2**20]]
    found: list[str] = []
    for blob in blobs:
        stream = io.BytesIO(blob)
        while stream.tell() < len(blob) and len(found) < 1000:
            try:
                found += _globals_of(stream)
            except Exception:  # the rest is no pickle: raw tensor data in the old format
                break
    return list(dict.fromkeys(found))


def _globals_of(stream: io.BytesIO) -> list[str]:
    """The globals of the one pickle at the stream's position (it ends after it)."""
    found, strings, memo = [], [], {}
    for opcode, argument, _ in pickletools.genops(stream):
        if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
            strings.append(argument)
        elif opcode.name == "MEMOIZE" and strings:
            memo[len(memo)] = strings[-1]
        elif opcode.name in ("BINGET", "LONG_BINGET", "GET") and argument in memo:
            strings.append(memo[argument])
        elif opcode.name in ("GLOBAL", "INST"):
            found.append(str(argument).replace(" ", "."))
        elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
            found.append(f"{strings[-2]}.{strings[-1]}")
    return found


# Safetensors ------------------------------------------------------------------------------


def read_safetensors(path: Path) -> dict[str, Stored]:
    """Each tensor of a safetensors file by its header, which must fit the file."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise CheckpointError("a truncated safetensors file (no header)")
        (length,) = struct.unpack("<Q", prefix)
        if length > min(MAX_HEADER, size - 8):
            raise CheckpointError(f"a safetensors header of {length:,} bytes in a file of {size:,}")
        try:
            header = json.loads(handle.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise CheckpointError("a safetensors header that is not JSON") from None
    if not isinstance(header, dict):
        raise CheckpointError("a safetensors header that is not a mapping")
    header.pop("__metadata__", None)
    start, data = 8 + length, size - 8 - length
    tensors: dict[str, Stored] = {}
    spans = []
    for index, (name, entry) in enumerate(header.items()):
        where = f"tensor {index + 1} ({_shown(name)}) of the safetensors header"
        dtype, shape, begin, end = _entry(entry, where)
        count = math.prod(shape)
        if not 0 <= begin <= end <= data or end - begin != count * DTYPES[dtype][1]:
            raise CheckpointError(
                f"{where}: its bytes lie outside the file or do not fit its shape"
            )
        spans.append((begin, end, where))
        tensors[name] = Stored(shape, DTYPES[dtype][0], _mapped(path, start + begin, dtype, shape))
    spans.sort()
    for (_, end, _), (begin, _, where) in zip(spans, spans[1:], strict=False):
        if begin < end:
            raise CheckpointError(f"{where}: its bytes overlap another tensor's")
    return tensors


def _entry(entry: Any, where: str) -> tuple[str, tuple[int, ...], int, int]:
    try:
        dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
    except (TypeError, KeyError, ValueError):
        raise CheckpointError(f"{where}: not a tensor's entry (dtype, shape, offsets)") from None
    numbers = [*shape, begin, end] if isinstance(shape, list) else None
    if (
        dtype not in DTYPES
        or numbers is None
        or not all(type(n) is int and 0 <= n < 2**62 for n in numbers)
    ):
        raise CheckpointError(f"{where}: a dtype, shape or offset no tensor has")
    return dtype, tuple(shape), begin, end


def _mapped(path: Path, offset: int, dtype: str, shape: tuple[int, ...]) -> Callable[[], Any]:
    """The tensor at `offset`, mapped from the file (read by the pages it touches)."""

    def read() -> Any:
        import torch

        with path.open("rb") as handle:
            mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        count = math.prod(shape)
        kind = getattr(torch, DTYPES[dtype][0])
        if count == 0:
            return torch.empty(shape, dtype=kind)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the mapping is read-only, as the model uses it
            flat = torch.frombuffer(mapping, dtype=kind, count=count, offset=offset)
        return flat.reshape(shape)

    return read


def _shown(name: object) -> str:
    text = repr(name)
    return text if len(text) <= 60 else text[:57] + "..."


# Folders ----------------------------------------------------------------------------------


def _open_folder(folder: Path) -> Opened:
    config = _config(folder / "config.json")
    for name in FOLDER_WEIGHTS:
        if (folder / name).is_file():
            opened = open_checkpoint(folder / name)
            return Opened(opened.content, config, opened.files, opened.arguments)
    for name in FOLDER_INDEXES:
        if (folder / name).is_file():
            return _open_shards(folder, folder / name, config)
    raise CheckpointError(
        f"a folder with no weights to read ({', '.join(FOLDER_WEIGHTS)}, or an index of shards)"
    )


def _config(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    if path.stat().st_size > MAX_CONFIG:
        raise CheckpointError(f"{path.name}: over {MAX_CONFIG:,} bytes")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{path.name}: not JSON") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path.name}: not a mapping")
    return config


def _open_shards(folder: Path, index: Path, config: dict[str, Any] | None) -> Opened:
    """A sharded folder: the index names the shard of every tensor; each shard is opened
    as a file of its own, inside the folder."""
    listing = _config(index) or {}
    weight_map = listing.get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(f"{index.name}: an index without a weight_map")
    shards = []
    for shard in dict.fromkeys(weight_map.values()):
        path = folder / str(shard)
        if not isinstance(shard, str) or path.resolve().parent != folder.resolve():
            raise CheckpointError(f"{index.name}: a shard outside the folder ({_shown(shard)})")
        shards.append(path)
    content: dict[str, Any] = {}
    for path in shards:
        try:
            opened = open_checkpoint(path).content
        except CheckpointError as error:
            raise CheckpointError(f"{path.name}: {error}") from None
        if not isinstance(opened, dict):
            raise CheckpointError(f"{path.name}: a shard that holds no tensors by name")
        content.update(opened)
    missing = [name for name in weight_map if name not in content]
    if missing:
        raise CheckpointError(f"{index.name}: lists {_shown(missing[0])}, which no shard holds")
    return Opened(content, config, tuple(shards))
