"""Data the book works on: a photo, Fashion-MNIST, and the cast testbed made from it.

The photo is used in the first chapters. Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017)
comes as four gzip-compressed IDX files, found, downloaded and checked by
:mod:`sebook.archives`. The cast testbed is generated from it, deterministically.
Explained in "Learned channel weights".
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from . import checks
from .archives import (
    FASHION_MNIST_FILES,
    FASHION_MNIST_URL,
    _find,
    read_archive,
    search_dirs,
)

PHOTO_NAME = "grace_hopper.jpg"
"""The photo shipped with matplotlib's sample data (Grace Hopper, 512 x 600, RGB)."""


def load_photo(size: int = 128) -> torch.Tensor:
    """The sample photo as a (1, 3, size, size) float tensor in [0, 1], cropped square.

    The crop is centred.
    """
    size = checks.positive_int("size", size)
    # the photo ships with matplotlib; loaded only when asked for
    import matplotlib.cbook
    from PIL import Image

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
    found with :func:`sebook.archives.find_archive` (see
    :func:`sebook.archives.search_dirs` for the order) and checked against its published
    checksum before it is parsed. The result is cached per process: later calls return
    the same tensors, so do not modify them in place.
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

CAST_TINT = 1.0
"""The brightness of the lit channel's frame in a cast testbed image."""

CAST_VARIANTS: dict[str, dict[str, float | bool]] = {
    "cast-fashion-mnist": {"tint": CAST_TINT, "oracle": False},
    "cast-fashion-mnist-tint-0.5": {"tint": 0.5 * CAST_TINT, "oracle": False},
    "cast-fashion-mnist-tint-0": {"tint": 0.0, "oracle": False},
    "cast-fashion-mnist-oracle": {"tint": CAST_TINT, "oracle": True},
}
"""The cast testbed and its variants by name.

They share the garments and the lit channels. The frame is at half strength or off
(``tint``, for the dose-response of SE's gain), or the lit channel is always moved first
(``oracle``, the cast given to the network as an input, a ceiling for what knowing it is
worth)."""

DATASETS = ("fashion-mnist", *CAST_VARIANTS)
"""Names of the data sets the book trains on, Fashion-MNIST and the cast testbeds.

The cast testbeds are derived from Fashion-MNIST.
"""


def image_channels(dataset: str) -> int:
    """Colour channels of ``dataset``'s images: 3 for the cast testbeds, 1 for Fashion-MNIST."""
    return 3 if checks.one_of("dataset", dataset, DATASETS) in CAST_VARIANTS else 1


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


def lit_first(images: torch.Tensor, lit: torch.Tensor) -> torch.Tensor:
    """``images`` with each image's lit channel moved to the front, the others after it in turn."""
    first = lit.argmax(1)
    order = (first[:, None] + torch.arange(3)) % 3  # (N, 3): lit, lit + 1, lit + 2
    return images[torch.arange(len(images))[:, None], order]


@functools.lru_cache(maxsize=2)
def _cast_split(
    split: str,
    dirs: tuple[Path, ...],
    base_url: str,
    tint: float = CAST_TINT,
    oracle: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    images, labels = _load(split, dirs, base_url)
    generator = torch.Generator().manual_seed(CAST_SEEDS[split])
    lit = lit_channels(len(images), generator)
    cast = compose_cast_images(images, lit, generator, tint=tint)
    return (lit_first(cast, lit) if oracle else cast), labels, lit


def load_cast_fashion_mnist(
    split: str,
    root: str | os.PathLike[str] | None = None,
    base_url: str = FASHION_MNIST_URL,
    variant: str = "cast-fashion-mnist",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The cast testbed: three Fashion-MNIST garments per image, one per colour channel.

    The lit one is the label.

    Returns ``(images, labels, lit)``: float32 (N, 3, 32, 32) images
    (:func:`compose_cast_images`), the labels of :func:`load_fashion_mnist` (of the
    garment in the lit channel), and the (N, 3) one-hot lit channel of each image
    (:func:`lit_channels`). Deterministic: each split is generated from its own fixed
    seed (:data:`CAST_SEEDS`). Cached per process like :func:`load_fashion_mnist`; do
    not modify the tensors in place. ``variant`` names one of :data:`CAST_VARIANTS`.
    """
    load_fashion_mnist(split, root, base_url)  # checks the arguments
    variant = CAST_VARIANTS[checks.one_of("variant", variant, CAST_VARIANTS)]
    dirs = tuple(d.resolve() for d in search_dirs(root))
    return _cast_split(split, dirs, base_url, **variant)


def load_dataset(
    dataset: str, split: str, root: str | os.PathLike[str] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images, labels)`` of ``split`` of one of :data:`DATASETS`."""
    checks.one_of("dataset", dataset, DATASETS)
    if dataset == "fashion-mnist":
        return load_fashion_mnist(split, root)
    images, labels, _ = load_cast_fashion_mnist(split, root, variant=dataset)
    return images, labels
