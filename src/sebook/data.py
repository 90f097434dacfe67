"""Data the book works on: a real photo, and Fashion-MNIST for the trained networks.

The photo is used in the first chapters.

Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017) comes as four gzip-compressed IDX files.
:func:`load_fashion_mnist` finds them (an explicit folder, ``$SEBOOK_DATA``, Debian's
``dataset-fashion-mnist`` package, a user cache), or downloads them from the dataset's
official source into the cache, and checks every file against the MD5 checksum published
in the dataset's README before parsing it. Explained in "Learned channel weights".

Debian's package ships the files re-wrapped: the same compressed bytes, but a gzip
header without the original file name and with a new time stamp. Putting the original
10-byte header and file name back in front of Debian's compressed stream gives a file
whose MD5 is the published one (and whose SHA-256 is the one that TensorFlow Datasets
and Keras record), so such a copy is checked against the published checksum too
(:func:`verify_archive`).
"""

from __future__ import annotations

import functools
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
from PIL import Image
from torch.nn import functional as F

from . import checks

PHOTO_NAME = "grace_hopper.jpg"
"""The photo shipped with matplotlib's sample data (Grace Hopper, 512 x 600, RGB)."""


def load_photo(size: int = 128) -> torch.Tensor:
    """The sample photo as a (1, 3, size, size) float tensor in [0, 1], cropped square.

    The crop is centred.
    """
    size = checks.positive_int("size", size)
    # the photo ships with matplotlib; loaded only when asked for
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data(PHOTO_NAME) as f:
        image = Image.open(f).convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize(
        (size, size), Image.Resampling.BICUBIC
    )
    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()


# --- Fashion-MNIST --------------------------------------------------------------------

FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
"""The dataset's official download location.

From zalandoresearch/fashion-mnist, README, "Get the Data".
"""

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's package ``dataset-fashion-mnist`` installs the four files."""

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
"""The ten class names, indexed by label (the dataset's README)."""

SPLITS = ("train", "test")
"""Names accepted by :func:`load_fashion_mnist`."""


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

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
"""The (images, labels) files of each split."""

FASHION_MNIST_SHA256 = hashlib.sha256(
    "".join(
        FASHION_MNIST_FILES[n].sha256 for s in SPLITS for n in SPLIT_FILES[s]
    ).encode()
).hexdigest()
"""One fingerprint of the whole dataset, the SHA-256 of the four files' SHA-256s.

The files are in the order train images, train labels, test images, test labels.
Recorded in every checkpoint (see :mod:`sebook.checkpoints`).
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
    """The folders :func:`load_fashion_mnist` looks in, in order.

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
    from tqdm import tqdm

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
                    with tqdm(
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


@functools.lru_cache(maxsize=4)
def _load(
    split: str, dirs: tuple[Path, ...], base_url: str
) -> tuple[torch.Tensor, torch.Tensor]:
    image_name, label_name = SPLIT_FILES[split]
    images = read_archive(_find(image_name, dirs, base_url, True))
    labels = read_archive(_find(label_name, dirs, base_url, True))
    return images.unsqueeze(1).float().div_(255.0), labels.long()


def load_fashion_mnist(
    split: str,
    root: str | os.PathLike[str] | None = None,
    base_url: str = FASHION_MNIST_URL,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST's ``"train"`` (60,000) or ``"test"`` (10,000) split.

    Returns ``(images, labels)``.

    ``images`` is float32 (N, 1, 28, 28) in [0, 1], ``labels`` int64 (N,) with values
    0..9 (names in :data:`FASHION_MNIST_CLASSES`), in the files' order. Each file is
    found with :func:`find_archive` (see :func:`search_dirs` for the order) and checked
    against its published checksum before it is parsed. The result is cached per
    process: later calls return the same tensors, so do not modify them in place.
    """
    checks.one_of("split", split, SPLITS)
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(
            "root must be a folder path (str or os.PathLike) or None, got "
            f"{type(root).__name__}"
        )
    if not isinstance(base_url, str) or not base_url.startswith(
        ("http://", "https://")
    ):
        raise ValueError(
            f"base_url must be an http:// or https:// URL, got {base_url!r}"
        )
    dirs = tuple(d.resolve() for d in search_dirs(root))
    return _load(split, dirs, base_url)


# --- the cast testbed -----------------------------------------------------------------

DATASETS = ("fashion-mnist", "cast-fashion-mnist")
"""Names of the data sets the book trains on, Fashion-MNIST and the cast testbed.

The cast testbed is derived from Fashion-MNIST.
"""

CAST_TINT = 1.0
"""The brightness of the lit channel's frame in a cast testbed image."""

CAST_FRAME = 2
"""Width in pixels of the frame around each cast testbed image.

The garments are 28 x 28, the images 32 x 32.
"""

CAST_SEEDS = {"train": 0, "test": 1}
"""The fixed seed of each split of the cast testbed.

A split is then the same tensor on every machine.
"""


def lit_channels(n: int, generator: torch.Generator) -> torch.Tensor:
    """(n, 3) one-hot rows: which of the three colour channels each of n images has lit.

    The lit channel is drawn uniformly at random.
    """
    n = checks.positive_int("n", n)
    return F.one_hot(torch.randint(0, 3, (n,), generator=generator), 3).float()


def compose_cast_images(
    images: torch.Tensor,
    lit: torch.Tensor,
    generator: torch.Generator,
    tint: float = CAST_TINT,
    frame: int = CAST_FRAME,
) -> torch.Tensor:
    """Three garments in three colour channels, framed in the labelled one's colour.

    The frame has the colour of the channel that holds the labelled garment.

    For image ``i`` with one-hot ``lit[i]``, the lit channel holds ``images[i]`` and the
    two other channels hold two other images of the same set, drawn at random; all three
    are padded by a ``frame`` of zeros, and the lit channel's frame is set to ``tint``.
    Which garment to classify is told only by the frame, far from most of the garment's
    pixels: a property of the whole channel that SE's squeeze sees at once (and can use
    to weight the lit channel's features up), while a convolution sees it only where its
    window reaches the frame.
    """
    images = checks.feature_map(images, 1, name="images")
    n = len(images)
    if not isinstance(lit, torch.Tensor) or lit.shape != (n, 3):
        raise ValueError(
            f"lit must be a tensor of shape ({n}, 3), got "
            f"{getattr(lit, 'shape', lit)!r}"
        )
    tint = float(tint)
    if not tint >= 0:
        raise ValueError(f"tint must be a number >= 0, got {tint!r}")
    frame = checks.positive_int("frame", frame)
    others = (
        torch.arange(n)[:, None] + torch.randint(1, n, (n, 2), generator=generator)
    ) % n
    channels = images.expand(n, 3, *images.shape[2:]).clone()
    distractors = images[others].squeeze(2)  # (n, 2, H, W)
    mask = lit.bool()
    channels[~mask] = distractors.reshape(2 * n, *images.shape[2:])
    framed = F.pad(channels, (frame,) * 4)
    border = torch.ones(framed.shape[2:], dtype=torch.bool)
    border[frame:-frame, frame:-frame] = False
    return framed + tint * lit[:, :, None, None] * border


@functools.lru_cache(maxsize=2)
def _cast_split(
    split: str, dirs: tuple[Path, ...], base_url: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    images, labels = _load(split, dirs, base_url)
    generator = torch.Generator().manual_seed(CAST_SEEDS[split])
    lit = lit_channels(len(images), generator)
    return compose_cast_images(images, lit, generator), labels, lit


def load_cast_fashion_mnist(
    split: str,
    root: str | os.PathLike[str] | None = None,
    base_url: str = FASHION_MNIST_URL,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The cast testbed: three Fashion-MNIST garments per image, one per colour channel.

    The lit one is the label.

    Returns ``(images, labels, lit)``: float32 (N, 3, 32, 32) images
    (:func:`compose_cast_images`), the labels of :func:`load_fashion_mnist` (of the
    garment in the lit channel), and the (N, 3) one-hot lit channel of each image
    (:func:`lit_channels`). Deterministic: each split is generated from its own fixed
    seed (:data:`CAST_SEEDS`). Cached per process like :func:`load_fashion_mnist`; do
    not modify the tensors in place.
    """
    load_fashion_mnist(split, root, base_url)  # checks the arguments
    return _cast_split(split, tuple(d.resolve() for d in search_dirs(root)), base_url)


def load_dataset(
    dataset: str, split: str, root: str | os.PathLike[str] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images, labels)`` of ``split`` of one of :data:`DATASETS`."""
    checks.one_of("dataset", dataset, DATASETS)
    if dataset == "fashion-mnist":
        return load_fashion_mnist(split, root)
    images, labels, _ = load_cast_fashion_mnist(split, root)
    return images, labels
