"""The manifest of the committed checkpoints: one JSON file that lists every net.

``checkpoints/manifest.json`` records, for each checkpoint file, its SHA-256 and size,
its data set and structured training recipe, config, seed, metrics, the exact command
that wrote it and where it was trained. :func:`update_manifest` adds an entry atomically
under a lock (two trainings may finish at once); :func:`verify_manifest` checks every
file against it. Explained in "Learned channel weights".
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .checkpoints import CheckpointError, file_sha256

MANIFEST_FORMAT = "sebook-checkpoint-manifest"
"""The ``format`` field of ``manifest.json``."""


def read_manifest(manifest_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest as a dict; empty if absent.

    The dict is ``{"format", "format_version", "checkpoints": {file name: entry}}``.
    """
    manifest_path = Path(manifest_path)
    if not manifest_path.exists():
        return {"format": MANIFEST_FORMAT, "format_version": 1, "checkpoints": {}}
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CheckpointError(
            f"{manifest_path} is not a readable JSON manifest: {error}"
        ) from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != MANIFEST_FORMAT
        or not isinstance(manifest.get("checkpoints"), dict)
    ):
        raise CheckpointError(
            f"{manifest_path} is not a sebook checkpoint manifest "
            f"(expected format {MANIFEST_FORMAT!r} and a 'checkpoints' object)"
        )
    return manifest


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive lock on ``directory``.

    It is a flock on the folder itself: no lock file is left behind.
    """
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def update_manifest(
    manifest_path: str | os.PathLike[str],
    checkpoint_path: str | os.PathLike[str],
    entry: Mapping[str, Any],
) -> dict[str, Any]:
    """Add or replace the entry of ``checkpoint_path``; return the entry.

    The checkpoint must sit beside the manifest.

    The entry gets the file's current ``sha256`` and ``size``; the manifest is rewritten
    atomically, under a lock so that concurrent training runs do not lose each other's
    entries.
    """
    manifest_path, checkpoint_path = Path(manifest_path), Path(checkpoint_path)
    if checkpoint_path.resolve().parent != manifest_path.resolve().parent:
        raise ValueError(
            f"the checkpoint {checkpoint_path} must be in the manifest's folder "
            f"{manifest_path.parent}"
        )
    record = {
        **dict(entry),
        "sha256": file_sha256(checkpoint_path),
        "size": checkpoint_path.stat().st_size,
    }

    def add(manifest: dict[str, Any]) -> None:
        manifest["checkpoints"][checkpoint_path.name] = record
        manifest["checkpoints"] = dict(sorted(manifest["checkpoints"].items()))

    _rewrite(manifest_path, add)
    return record


def update_manifest_fields(
    manifest_path: str | os.PathLike[str], **fields: Any
) -> None:
    """Set top-level fields of the manifest (e.g. ``compute``), under the same lock.

    ``checkpoints`` and the format fields cannot be set this way.
    """
    reserved = {"checkpoints", "format", "format_version"} & set(fields)
    if reserved:
        raise ValueError(
            f"fields must not include {', '.join(sorted(reserved))}; use "
            "update_manifest for checkpoint entries"
        )
    _rewrite(Path(manifest_path), lambda manifest: manifest.update(fields))


def _rewrite(manifest_path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Read, ``change`` in place and atomically rewrite the manifest, under its lock."""
    with _locked(manifest_path.resolve().parent):
        manifest = read_manifest(manifest_path)
        change(manifest)
        fd, tmp = tempfile.mkstemp(
            prefix=".manifest.", suffix=".tmp", dir=manifest_path.parent
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(manifest, f, indent=2)
                f.write("\n")
            os.chmod(tmp, 0o644)
            os.replace(tmp, manifest_path)
        finally:
            Path(tmp).unlink(missing_ok=True)


def verify_manifest(manifest_path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Check every file the manifest lists against its recorded size and SHA-256.

    Also checks that no ``.pt`` file beside it is unlisted. Returns the entries; raises
    :class:`~sebook.checkpoints.CheckpointError` listing every problem found.
    """
    manifest_path = Path(manifest_path)
    if not manifest_path.is_file():
        raise FileNotFoundError(f"manifest {manifest_path} not found")
    entries = read_manifest(manifest_path)["checkpoints"]
    folder = manifest_path.parent
    problems = []
    for name, entry in entries.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{path}: listed but missing")
        elif path.stat().st_size != entry.get("size"):
            problems.append(
                f"{path}: size {path.stat().st_size:,} bytes, the manifest says "
                f"{entry.get('size')}"
            )
        elif file_sha256(path) != entry.get("sha256"):
            problems.append(
                f"{path}: SHA-256 {file_sha256(path)} differs from the manifest's "
                f"{entry.get('sha256')}"
            )
    problems += [
        f"{p}: not listed in {manifest_path}"
        for p in sorted(folder.glob("*.pt"))
        if p.name not in entries
    ]
    if problems:
        raise CheckpointError(
            f"{manifest_path} does not match the files:\n" + "\n".join(problems)
        )
    return entries
