"""The files of Fashion-MNIST: found locally or downloaded, and checked before use.

:func:`find_archive` looks in an explicit folder, ``$SEBOOK_DATA``, Debian's
``dataset-fashion-mnist`` package and a user cache, and downloads into the cache only if
all of those miss (:func:`download`: atomic, with checksums). Every file is checked
against the published MD5 sum before it is parsed (:func:`verify_archive`), and
:func:`read_archive` parses the IDX format. Used by :mod:`sebook.data`.

Debian's package ships the files re-wrapped: the same compressed bytes, but a gzip
header without the original file name and with a new time stamp. Putting the original
10-byte header and file name back in front of Debian's compressed stream gives a file
whose MD5 is the published one (and whose SHA-256 is the one that TensorFlow Datasets
and Keras record), so such a copy is checked against the published checksum too.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import struct
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import checks
from .runtime import progress_bar

FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
"""The dataset's official download location.

From zalandoresearch/fashion-mnist, README, "Get the Data".
"""


DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's package ``dataset-fashion-mnist`` installs the four files."""


@dataclass(frozen=True)
class ArchiveInfo:
    """One published file: its checksums, its size, and what it holds once decompressed.

    ``md5`` is the checksum published in the dataset's README; ``sha256`` the one
    TensorFlow Datasets and Keras record for the same file; ``mtime`` the time stamp in
    its gzip header (needed to check a re-wrapped copy);
    ``payload_sha256``/``payload_size`` describe the decompressed IDX file.
    """

    name: str
    md5: str
    sha256: str
    size: int
    mtime: int
    payload_sha256: str
    payload_size: int
    count: int
    kind: str  # "images" or "labels"


FASHION_MNIST_FILES: dict[str, ArchiveInfo] = {
    a.name: a
    for a in (
        ArchiveInfo(
            "train-images-idx3-ubyte.gz",
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            26_421_880,
            1_504_176_606,
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            47_040_016,
            60_000,
            "images",
        ),
        ArchiveInfo(
            "train-labels-idx1-ubyte.gz",
            "25c81989df183df01b3e8a0aad5dffbe",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            29_515,
            1_504_176_606,
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            60_008,
            60_000,
            "labels",
        ),
        ArchiveInfo(
            "t10k-images-idx3-ubyte.gz",
            "bef4ecab320f06d8554ea6380940ec79",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            4_422_102,
            1_504_176_627,
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            7_840_016,
            10_000,
            "images",
        ),
        ArchiveInfo(
            "t10k-labels-idx1-ubyte.gz",
            "bb300cfdad3c16e7a12a480ee83cd310",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            5_148,
            1_504_176_627,
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            10_008,
            10_000,
            "labels",
        ),
    )
}
"""The four files of Fashion-MNIST, with MD5 and SHA-256 sums.

The MD5 sums are from the dataset's README, the SHA-256 sums from TensorFlow Datasets'
checksum list.
"""


class DataError(RuntimeError):
    """A data file is missing, cannot be fetched, or is not the published file."""


class ChecksumError(DataError):
    """A data file's content differs from the published file.

    It is corrupt, truncated or a different file.
    """


def cache_dir() -> Path:
    """The user cache folder for downloads.

    ``$XDG_CACHE_HOME/sebook/fashion-mnist`` (``~/.cache/...`` by default).
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sebook" / "fashion-mnist"


def search_dirs(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders :func:`sebook.data.load_fashion_mnist` looks in, in order.

    With ``root``: that folder only (missing files are downloaded into it). Otherwise
    ``$SEBOOK_DATA`` (if set), Debian's :data:`DEBIAN_DIR`, then :func:`cache_dir`
    (where missing files are downloaded).
    """
    if root is not None:
        return [Path(root)]
    dirs = [Path(os.environ["SEBOOK_DATA"])] if os.environ.get("SEBOOK_DATA") else []
    return dirs + [DEBIAN_DIR, cache_dir()]


def _gzip_header(info: ArchiveInfo) -> bytes:
    """The published file's gzip header.

    Magic, deflate, FNAME flag, time stamp, no extra flags, Unix, file name.
    """
    return (
        b"\x1f\x8b\x08\x08"
        + struct.pack("<I", info.mtime)
        + b"\x00\x03"
        + info.name[:-3].encode()
        + b"\x00"
    )


def verify_archive(
    data: bytes, name: str, source: str | os.PathLike[str] = "<bytes>"
) -> str:
    """Check ``data`` (the bytes of file ``name``) against the published MD5.

    Return how it matched.

    ``"published"``: the bytes are the published file. ``"rewrapped"``: a plain 10-byte
    gzip header (no file name) followed by exactly the published compressed stream, as
    in Debian's package; putting the published header back gives the published MD5.
    Anything else raises :class:`ChecksumError` naming ``source``.
    """
    info = FASHION_MNIST_FILES[checks.one_of("name", name, FASHION_MNIST_FILES)]
    digest = hashlib.md5(data).hexdigest()
    if digest == info.md5:
        return "published"
    if len(data) > 10 and data[:4] == b"\x1f\x8b\x08\x00":
        rebuilt = hashlib.md5(_gzip_header(info))
        rebuilt.update(memoryview(data)[10:])
        if rebuilt.hexdigest() == info.md5:
            return "rewrapped"
    raise ChecksumError(
        f"{source} failed its checksum: MD5 {digest} (size {len(data):,} bytes), but "
        f"the published {name} has MD5 {info.md5} (size {info.size:,} bytes). The file "
        "is corrupt, truncated or a different file; delete it and load again to fetch "
        "a fresh copy."
    )


def _parse_idx(payload: bytes, info: ArchiveInfo, source: Path) -> torch.Tensor:
    """Parse IDX format (big-endian): magic, dimensions, then uint8 data.

    The magic is ``0x00000803`` (images) or ``0x00000801`` (labels).
    """
    ndim = 3 if info.kind == "images" else 1
    magic, *dims = struct.unpack(f">{1 + ndim}I", payload[: 4 * (1 + ndim)])
    expected_dims = [info.count, 28, 28] if ndim == 3 else [info.count]
    if (
        magic != 0x800 + ndim
        or dims != expected_dims
        or len(payload) != 4 * (1 + ndim) + int(np.prod(dims))
    ):
        raise DataError(
            f"{source} is not an IDX {info.kind} file of shape {tuple(expected_dims)} "
            f"(magic {magic:#010x}, dimensions {dims})"
        )
    array = np.frombuffer(payload, dtype=np.uint8, offset=4 * (1 + ndim)).reshape(dims)
    return torch.from_numpy(array.copy())


def read_archive(path: str | os.PathLike[str]) -> torch.Tensor:
    """Verify one of the four files (:func:`verify_archive`) and parse it.

    The result is uint8 (N, 28, 28) images or (N,) labels.
    """
    path = Path(path)
    info = FASHION_MNIST_FILES[
        checks.one_of("file name", path.name, FASHION_MNIST_FILES)
    ]
    data = path.read_bytes()
    verify_archive(data, info.name, path)
    payload = gzip.decompress(data)
    if (
        hashlib.sha256(payload).hexdigest() != info.payload_sha256
    ):  # cannot happen once the MD5 matched
        raise ChecksumError(f"{path} failed its checksum after decompression")
    return _parse_idx(payload, info, path)


def download(
    name: str,
    directory: str | os.PathLike[str],
    base_url: str = FASHION_MNIST_URL,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Fetch file ``name`` from ``base_url`` into ``directory``; return its path.

    The file is verified.

    The bytes go to a temporary file in ``directory``, which is checked with
    :func:`verify_archive` and only then renamed into place, so an interrupted,
    truncated or corrupt download leaves nothing behind. A tqdm bar shows progress when
    ``progress`` is true.
    """
    info = FASHION_MNIST_FILES[checks.one_of("name", name, FASHION_MNIST_FILES)]
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{name}.", suffix=".part", dir=directory
        )
    except OSError as error:
        raise DataError(
            f"cannot write the download folder {directory} "
            f"({error.strerror or error}); set the environment variable SEBOOK_DATA, "
            "or pass root=, to a folder you can write to"
        ) from error
    tmp = Path(tmp_name)
    url = base_url.rstrip("/") + "/" + name
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    total = int(response.headers.get("Content-Length") or info.size)
                    with progress_bar(
                        total=total,
                        unit="B",
                        unit_scale=True,
                        desc=name,
                        disable=not progress,
                        leave=False,
                    ) as bar:
                        while True:
                            try:
                                chunk = response.read(1 << 16)
                            except (
                                http.client.IncompleteRead
                            ) as cut:  # connection closed early: keep what came
                                out.write(cut.partial)
                                break
                            if not chunk:
                                break
                            out.write(chunk)
                            bar.update(len(chunk))
            except (
                urllib.error.URLError,
                http.client.HTTPException,
                OSError,
                ValueError,
            ) as error:
                raise DataError(
                    f"downloading {name} from {url} failed: {error}"
                ) from error
        verify_archive(tmp.read_bytes(), name, f"the download of {name} from {url}")
        os.chmod(tmp, 0o644)
        target = directory / name
        os.replace(tmp, target)
        return target
    finally:
        tmp.unlink(missing_ok=True)


def _find(name: str, dirs: tuple[Path, ...], base_url: str, progress: bool) -> Path:
    for directory in dirs:
        if (directory / name).is_file():
            return directory / name
    return download(name, dirs[-1], base_url, progress)


def find_archive(
    name: str,
    root: str | os.PathLike[str] | None = None,
    base_url: str = FASHION_MNIST_URL,
    progress: bool = True,
) -> Path:
    """The path of file ``name``, found or downloaded.

    The first of :func:`search_dirs` that has it, else a fresh verified download.
    """
    checks.one_of("name", name, FASHION_MNIST_FILES)
    return _find(name, tuple(search_dirs(root)), base_url, progress)
