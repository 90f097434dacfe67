"""Data the book works on: a real photo for the first chapters (Fashion-MNIST follows in "Learned weights")."""
from __future__ import annotations

import matplotlib.cbook
import numpy as np
import torch
from PIL import Image

from . import checks

PHOTO_NAME = "grace_hopper.jpg"
"""The photo shipped with matplotlib's sample data (Grace Hopper, 512 x 600 pixels, RGB)."""


def load_photo(size: int = 128) -> torch.Tensor:
    """The sample photo as a (1, 3, size, size) float tensor in [0, 1], centre-cropped to a square."""
    size = checks.positive_int("size", size)
    with matplotlib.cbook.get_sample_data(PHOTO_NAME) as f:
        image = Image.open(f).convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BICUBIC)
    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()
