"""Trained Fashion-MNIST networks on disk: weights-only checkpoints.

A checkpoint is one ``torch.save`` file holding plain data only: the state dict
(tensors) and its metadata (format version, architecture, config, metrics, seed, data
checksum, library and torch versions, and a SHA-256 of the weights). It is read back
with ``torch.load(..., weights_only=True)`` only, which refuses any pickled object other
than tensors and plain containers, so a tampered file cannot run code.
:mod:`sebook.manifest` lists every committed checkpoint. Explained in "Learned channel
weights".
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import platform
import re
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .fashion_models import FashionNet, FashionNetConfig

FORMAT = "sebook-checkpoint"
"""The ``format`` field of every checkpoint."""

FORMAT_VERSION = 1
"""Version of the checkpoint layout this library writes and reads."""

ARCHITECTURE = "FashionNet"
"""The only architecture stored so far (:class:`sebook.fashion_models.FashionNet`)."""


_SHA256 = re.compile(r"[0-9a-f]{64}")


CHECKPOINTS_ENV = "SEBOOK_CHECKPOINTS"
"""Environment variable that overrides the folder of the committed checkpoints."""


def checkpoint_folder() -> Path:
    """The folder of the committed checkpoints.

    ``$SEBOOK_CHECKPOINTS`` if set, else ``checkpoints/`` at the root of the repository
    this library is installed from (editable install), else ``./checkpoints``.
    """
    if os.environ.get(CHECKPOINTS_ENV):
        return Path(os.environ[CHECKPOINTS_ENV])
    repository = Path(__file__).resolve().parents[2] / "checkpoints"
    return repository if repository.is_dir() else Path("checkpoints")


def checkpoint_path(
    config: FashionNetConfig,
    seed: int,
    folder: str | os.PathLike[str] | None = None,
    *,
    recipe: str = "short",
    dataset: str = "fashion-mnist",
) -> Path:
    """Where ``config`` trained with ``seed`` by ``recipe`` on ``dataset`` is stored.

    ``<folder>/<dataset>_<recipe>_<config.name>_s<seed>.pt``; the first edition's nets
    (recipe ``"short"`` on Fashion-MNIST) keep their short names,
    ``<folder>/<config.name>_s<seed>.pt``.
    """
    if not isinstance(config, FashionNetConfig):
        raise TypeError(
            f"config must be a FashionNetConfig, got {type(config).__name__}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    prefix = (
        ""
        if (recipe, dataset) == ("short", "fashion-mnist")
        else f"{dataset}_{recipe}_"
    )
    return (
        Path(checkpoint_folder() if folder is None else folder)
        / f"{prefix}{config.name}_s{seed}.pt"
    )


class CheckpointError(ValueError):
    """A checkpoint or the manifest is corrupt, truncated, unsafe or incompatible.

    Incompatible, that is, with this library.
    """


def _library_version() -> str:
    from . import __version__

    return str(__version__)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def state_sha256(state_dict: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over a state dict's names, dtypes, shapes and bytes, in key order.

    It is a fingerprint of the weights that a checkpoint stores beside them, so that
    :func:`load_checkpoint` notices bytes changed inside the file.
    """
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        tensor = state_dict[key].detach().cpu().contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(
            tensor.view(-1).view(torch.uint8).numpy().tobytes()
            if tensor.numel()
            else b""
        )
    return digest.hexdigest()


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    config: FashionNetConfig,
    metrics: Mapping[str, Any],
    seed: int,
    data_sha256: str,
) -> Path:
    """Write ``model``'s state dict and its metadata to ``path`` atomically.

    A temporary file is written first, then moved with ``os.replace``
    (:func:`save_atomically`).

    Everything stored is plain data (tensors, str, int, float, bool, None, lists and
    dicts), so that :func:`load_checkpoint` can read it with ``weights_only=True``.
    Writing the same weights and metadata twice gives the same bytes. Returns the path.
    """
    path = Path(path)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(config, FashionNetConfig):
        raise TypeError(
            f"config must be a FashionNetConfig, got {type(config).__name__}"
        )
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"metrics must be a mapping (dict), got {type(metrics).__name__}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if not isinstance(data_sha256, str) or not _SHA256.fullmatch(data_sha256):
        raise ValueError(
            f"data_sha256 must be 64 lowercase hex digits, got {data_sha256!r}"
        )
    if path.suffix != ".pt":
        raise ValueError(f"path must end in .pt, got {str(path)!r}")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": ARCHITECTURE,
        "config": config.to_dict(),
        "metrics": json.loads(json.dumps(dict(metrics))),
        "seed": seed,
        "data_sha256": data_sha256,
        "versions": {
            "sebook": _library_version(),
            "torch": str(torch.__version__),
            "python": platform.python_version(),
        },
        "state_dict": {
            k: v.detach().cpu().clone() for k, v in model.state_dict().items()
        },
    }
    payload["state_sha256"] = state_sha256(payload["state_dict"])
    return save_atomically(payload, path)


def save_atomically(payload: object, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` ``payload`` to ``path`` through a temporary file and ``os.replace``.

    A reader of ``path`` sees the old file or the new one, never half of one.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            # a file object, not a name: the archive's inner folder is always "archive"
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def _require(condition: bool, path: Path, message: str) -> None:
    if not condition:
        raise CheckpointError(f"{path}: {message}")


MANIFEST_NAME = "manifest.json"
"""The manifest's file name, beside the checkpoints it lists (:mod:`sebook.manifest`)."""


def _manifest_sha256(path: Path) -> str | None:
    """The SHA-256 the manifest beside ``path`` records for it; None if none does.

    The weights' fingerprint inside the file does not cover its metadata; this does.
    """
    try:
        manifest = json.loads((path.parent / MANIFEST_NAME).read_text(encoding="utf-8"))
        entry = manifest["checkpoints"][path.name]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return entry.get("sha256") if isinstance(entry, dict) else None


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and check a checkpoint's contents without building the model.

    The file is read with ``weights_only=True``, then the metadata is checked.

    Raises ``FileNotFoundError`` for a missing file and :class:`CheckpointError` (naming
    the file) for one that is truncated, corrupt, carries pickled code, or was written
    in another format.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {path} not found (no such file); the committed ones are "
            f"listed in checkpoints/manifest.json"
        )
    listed = _manifest_sha256(path)
    _require(
        listed is None or file_sha256(path) == listed,
        path,
        f"the file differs from the SHA-256 that {MANIFEST_NAME} beside it records "
        "(it was changed after it was written); restore it (git checkout) or retrain it",
    )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(
            r"WeightsUnpickler error:\s*(.*?)\s*(\n\n|$)", str(error), re.DOTALL
        ) or re.search(
            r"^(.*unsupported GLOBAL.*)$", str(error), re.MULTILINE | re.IGNORECASE
        )
        detail = (
            found.group(1).split(". Please use")[0]
            if found
            else str(error).splitlines()[0]
        )
        if "unsupported global" in detail.lower():
            raise CheckpointError(
                f"{path} was refused: it holds pickled objects other than tensors and "
                "plain containers (possibly code), which weights-only loading never "
                f"runs ({detail})"
            ) from None
        raise CheckpointError(
            f"{path} is not a readable checkpoint (corrupt, truncated, or not written "
            f"by torch.save): {detail}"
        ) from None
    except (
        RuntimeError,
        EOFError,
        OSError,
        ValueError,
        zipfile.BadZipFile,
        KeyError,
    ) as error:
        raise CheckpointError(
            f"{path} is not a readable checkpoint (corrupt or truncated): "
            f"{type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}"
        ) from None
    _require(
        isinstance(payload, dict),
        path,
        f"expected a dict of metadata and weights, found {type(payload).__name__}",
    )
    _require(
        payload.get("format") == FORMAT,
        path,
        f"not a sebook checkpoint (format {payload.get('format')!r}, expected "
        f"{FORMAT!r})",
    )
    version = payload.get("format_version")
    _require(
        isinstance(version, int) and version <= FORMAT_VERSION,
        path,
        f"format version {version!r} is not supported: this sebook reads version "
        f"{FORMAT_VERSION} (a newer sebook wrote it?)",
    )
    _require(
        payload.get("architecture") == ARCHITECTURE,
        path,
        f"architecture {payload.get('architecture')!r} is unknown; expected "
        f"{ARCHITECTURE!r}",
    )
    for key, kind in (
        ("config", dict),
        ("metrics", dict),
        ("seed", int),
        ("data_sha256", str),
        ("versions", dict),
        ("state_dict", dict),
        ("state_sha256", str),
    ):
        _require(
            isinstance(payload.get(key), kind),
            path,
            f"metadata field {key!r} is missing or not a {kind.__name__}",
        )
    _require(
        bool(_SHA256.fullmatch(payload["data_sha256"])),
        path,
        "data_sha256 is not a SHA-256 digest",
    )
    versions = payload["versions"]
    _require(
        all(isinstance(versions.get(k), str) for k in ("sebook", "torch")),
        path,
        "the sebook and torch versions that wrote it are not recorded",
    )
    _require(
        all(isinstance(v, torch.Tensor) for v in payload["state_dict"].values()),
        path,
        "the state dict holds something other than tensors",
    )
    _require(
        state_sha256(payload["state_dict"]) == payload["state_sha256"],
        path,
        "the weights do not match the fingerprint stored with them (the file is "
        "corrupt)",
    )
    return payload


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[FashionNet, dict[str, Any]]:
    """Rebuild the trained network at ``path``: ``(model in eval mode, metadata)``.

    The file is read with ``torch.load(..., weights_only=True)`` only
    (:func:`read_checkpoint`); the config rebuilds the architecture, and the state dict
    must match it exactly. ``metadata`` holds ``config`` (a
    :class:`~sebook.fashion_models.FashionNetConfig`), ``metrics``, ``seed``,
    ``data_sha256``, ``versions`` and the format fields.
    """
    path = Path(path)
    payload = read_checkpoint(path)
    try:
        config = FashionNetConfig.from_dict(payload["config"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(
            f"{path}: its config is not valid for this sebook: {error}"
        ) from None
    model = FashionNet(config)
    state = payload.pop("state_dict")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(
        k for k in set(state) & set(expected) if state[k].shape != expected[k].shape
    )
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{path}: the weights do not fit the architecture {config.name!r}: "
            f"missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shapes "
            f"{wrong[:3]}"
        )
    model.load_state_dict(state, strict=True)
    model.eval()
    payload["config"] = config
    return model, payload
