"""ImageNet-shaped data: a folder of class folders of images, read with the standard transforms.

``root/<class>/<image>`` is the layout of ImageNet's training and validation sets (and of
torchvision's ``ImageFolder``, which this follows without needing torchvision): classes are
the sorted folder names, labels their positions. :func:`train_transform` is the standard
augmentation of ImageNet training (a random crop of 8-100 % of the area at an aspect ratio
of 3/4 to 4/3, resized to 224, a random horizontal flip, normalised by ImageNet's channel
statistics), :func:`eval_transform` the standard evaluation (resize to 256, centre crop 224).
Every random draw comes from a ``torch.Generator`` the caller passes, so a seeded run is
reproducible. Needs Pillow (``pip install ".[book]"``). Explained in the appendix
"Training beyond one machine".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch

from . import checks

IMAGENET_MEAN = (0.485, 0.456, 0.406)
"""ImageNet's mean pixel value per RGB channel, in [0, 1]."""

IMAGENET_STD = (0.229, 0.224, 0.225)
"""ImageNet's standard deviation per RGB channel, in [0, 1]."""

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
"""The image files a class folder may hold (by extension, in any case)."""


class ImageFolder(torch.utils.data.Dataset):
    """The images under ``root/<class>/``, as ``(image, label)`` pairs.

    ``transform`` turns a PIL image and a generator into a tensor; ``seed`` seeds that
    generator afresh for each (epoch, index) the caller sets with :meth:`set_epoch`.
    """

    def __init__(
        self,
        root: str | Path,
        transform: Callable[[object, torch.Generator], torch.Tensor],
        seed: int = 0,
    ) -> None:
        root = Path(root)
        if not root.is_dir():
            raise ValueError(
                f"root must be a folder of class folders, got {str(root)!r}"
            )
        self.classes = sorted(p.name for p in root.iterdir() if p.is_dir())
        if not self.classes:
            raise ValueError(f"root {str(root)!r} holds no class folders")
        self.samples = [
            (path, label)
            for label, name in enumerate(self.classes)
            for path in sorted((root / name).iterdir())
            if path.suffix.lower() in EXTENSIONS
        ]
        empty = [
            c
            for k, c in enumerate(self.classes)
            if all(l != k for _, l in self.samples)
        ]
        if empty:
            raise ValueError(
                f"class folder(s) {', '.join(empty)} of {str(root)!r} hold no images"
            )
        self.transform, self.seed, self.epoch = transform, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Draw this epoch's augmentation (each epoch and image gets its own seed)."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch must be an integer >= 0, got {epoch!r}")
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        path, label = self.samples[index]
        generator = torch.Generator().manual_seed(
            (self.seed * 1_000_003 + self.epoch) * 10_000_019 + index
        )
        with Image.open(path) as image:
            return self.transform(image.convert("RGB"), generator), label


def _to_tensor(image: object) -> torch.Tensor:
    """A PIL RGB image as a normalised (3, H, W) float tensor."""
    data = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    x = data.view(image.height, image.width, 3).permute(2, 0, 1).float() / 255
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    return (x - mean) / torch.tensor(IMAGENET_STD).view(3, 1, 1)


def random_resized_box(
    width: int,
    height: int,
    generator: torch.Generator,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` of a random crop: ``scale`` of the area at ``ratio``.

    Ten tries, then the centre crop at the nearest allowed ratio (as torchvision does).
    """
    area = width * height
    for _ in range(10):
        u = torch.rand(3, generator=generator).tolist()
        target = area * (scale[0] + u[0] * (scale[1] - scale[0]))
        aspect = math.exp(
            math.log(ratio[0]) + u[1] * (math.log(ratio[1]) - math.log(ratio[0]))
        )
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            left = int(torch.randint(0, width - w + 1, (1,), generator=generator))
            top = int(torch.randint(0, height - h + 1, (1,), generator=generator))
            return left, top, left + w, top + h
    aspect = min(max(width / height, ratio[0]), ratio[1])
    w, h = (
        (width, round(width / aspect))
        if width / height < aspect
        else (round(height * aspect), height)
    )
    w, h = min(w, width), min(h, height)
    left, top = (width - w) // 2, (height - h) // 2
    return left, top, left + w, top + h


def train_transform(
    size: int = 224,
) -> Callable[[object, torch.Generator], torch.Tensor]:
    """ImageNet training: random resized crop to ``size``, random horizontal flip, normalise."""
    size = checks.positive_int("size", size)

    def transform(image: object, generator: torch.Generator) -> torch.Tensor:
        from PIL import Image

        box = random_resized_box(image.width, image.height, generator)
        image = image.resize((size, size), Image.Resampling.BILINEAR, box=box)
        x = _to_tensor(image)
        return x.flip(-1) if torch.rand(1, generator=generator).item() < 0.5 else x

    return transform


def eval_transform(
    size: int = 224, resize: int = 256
) -> Callable[[object, torch.Generator], torch.Tensor]:
    """ImageNet evaluation: the shorter side resized to ``resize``, the centre ``size`` square, normalise."""
    size, resize = checks.positive_int("size", size), checks.positive_int(
        "resize", resize
    )
    if size > resize:
        raise ValueError(f"size ({size}) must be at most resize ({resize})")

    def transform(image: object, generator: torch.Generator) -> torch.Tensor:
        from PIL import Image

        scale = resize / min(image.width, image.height)
        w, h = max(size, round(image.width * scale)), max(
            size, round(image.height * scale)
        )
        image = image.resize((w, h), Image.Resampling.BILINEAR)
        left, top = (w - size) // 2, (h - size) // 2
        return _to_tensor(image.crop((left, top, left + size, top + size)))

    return transform


def write_example_folder(
    root: str | Path,
    classes: int = 3,
    per_class: tuple[int, int] = (5, 1),
    seed: int = 0,
) -> Path:
    """Write a tiny ImageNet-shaped data set under ``root``: ``train/`` and ``val/``.

    ``per_class`` images per class in each (PNG and JPEG, of different sizes), with
    random pixels and one colour channel dimmed per class, so that there is something to
    learn. For trying the trainer where ImageNet is not at hand; nothing downloads.
    """
    from PIL import Image

    classes = checks.positive_int("classes", classes)
    if classes > 3:
        raise ValueError(f"classes must be at most 3 (one per colour), got {classes}")
    root = Path(root)
    generator = torch.Generator().manual_seed(seed)
    for split, count in zip(("train", "val"), per_class):
        for k in range(classes):
            folder = root / split / f"n{k:08d}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(checks.positive_int("per_class", count)):
                h, w = 36 + 5 * k, 40 + 9 * i
                pixels = torch.randint(
                    0, 256, (h, w, 3), generator=generator, dtype=torch.uint8
                )
                pixels[..., k] //= 4
                suffix = "png" if i % 2 else "JPEG"
                Image.fromarray(pixels.numpy()).save(folder / f"{i}.{suffix}")
    return root
