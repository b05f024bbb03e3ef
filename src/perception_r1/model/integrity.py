"""Is a saved model folder complete? Cheap file-level checks, no model load.

A cache entry or stage marker must never stand for a folder that cannot be loaded: a ``save_pretrained`` on a
``torch.distributed`` rank other than 0 writes nothing, a killed save leaves some files, a full disk truncates
the weights. :func:`model_folder_problem` names what is wrong so the caller can rebuild instead of failing later
with transformers' "Unrecognized model" or a safetensors error.

Example:
    >>> import tempfile
    >>> model_folder_problem(tempfile.mkdtemp())
    'no config.json'
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
TORCH_BIN = "pytorch_model.bin"
# A processor or tokenizer folder holds at least one of these.
PROCESSOR_FILES = ("tokenizer.json", "tokenizer_config.json", "processor_config.json", "preprocessor_config.json")


def safetensors_problem(path: Path) -> str | None:
    """What is wrong with a ``.safetensors`` file (missing, truncated header or data), or None.

    The format is an 8-byte little-endian header length, a JSON header giving each tensor's byte range, then the
    data: the file must be at least as long as the largest end offset.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            (n,) = struct.unpack("<Q", handle.read(8))
            if n > size - 8:
                return f"{path.name}: truncated header"
            header = json.loads(handle.read(n))
    except FileNotFoundError:
        return f"no {path.name}"
    except (OSError, struct.error, ValueError) as exc:
        return f"{path.name}: unreadable ({exc.__class__.__name__})"
    ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    if not ends:
        return f"{path.name}: holds no tensor"
    if 8 + n + max(ends) > size:
        return f"{path.name}: truncated ({size} bytes, {8 + n + max(ends)} expected)"
    return None


def weights_problem(folder: Path) -> str | None:
    """What is wrong with a folder's weights (single file, sharded index, or legacy ``.bin``), or None."""
    if (folder / SAFETENSORS).is_file():
        return safetensors_problem(folder / SAFETENSORS)
    index = folder / SAFETENSORS_INDEX
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (OSError, ValueError, KeyError, AttributeError) as exc:
            return f"{index.name}: unreadable ({exc.__class__.__name__})"
        for shard in shards:
            problem = safetensors_problem(folder / shard)
            if problem:
                return problem
        return None if shards else f"{index.name}: names no shard"
    binary = folder / TORCH_BIN
    if binary.is_file():
        return None if binary.stat().st_size > 0 else f"{TORCH_BIN}: empty"
    return "no weights (model.safetensors, its index, or pytorch_model.bin)"


def model_folder_problem(folder: str | Path, processor: bool = True) -> str | None:
    """What keeps ``folder`` from loading as a saved model (and processor), or None when it looks complete.

    Args:
        folder: A ``save_pretrained`` folder.
        processor: Also require tokenizer/processor files.

    Returns:
        A short reason (``"no config.json"``, ``"model.safetensors: truncated ..."``), or None.
    """
    folder = Path(folder)
    config = folder / "config.json"
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except FileNotFoundError:
        return "no config.json"
    except (OSError, ValueError, AttributeError) as exc:
        return f"config.json: unreadable ({exc.__class__.__name__})"
    if not model_type:
        return "config.json: no model_type"
    problem = weights_problem(folder)
    if problem:
        return problem
    if processor and not any((folder / name).is_file() for name in PROCESSOR_FILES):
        return "no tokenizer or processor files"
    return None


def require_complete(folder: str | Path, processor: bool = True) -> None:
    """Raise unless ``folder`` holds a complete saved model: call it before writing any "done" marker.

    Raises:
        RuntimeError: naming the folder and what is missing (e.g. saved on a rank that writes nothing).
    """
    problem = model_folder_problem(folder, processor)
    if problem:
        raise RuntimeError(f"{folder}: the saved model is incomplete ({problem}); not marking it done")
