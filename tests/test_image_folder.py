"""ImageNet-shaped data (sebook.image_folder) on a tiny ImageFolder generated here; nothing downloads."""

from __future__ import annotations

import pytest
import torch

from sebook import image_folder

pytest.importorskip("PIL")


@pytest.fixture
def tiny(tmp_path):
    """Three classes of four images each, of different sizes and formats."""
    from PIL import Image

    generator = torch.Generator().manual_seed(0)
    for k, name in enumerate(("n01", "n02", "n03")):
        (tmp_path / name).mkdir()
        for i in range(4):
            w, h = 40 + 13 * i, 30 + 7 * k
            pixels = torch.randint(0, 256, (h, w, 3), generator=generator, dtype=torch.uint8)
            Image.fromarray(pixels.numpy()).save(tmp_path / name / f"{i}.{'png' if i % 2 else 'jpg'}")
    (tmp_path / "n01" / "notes.txt").write_text("not an image")
    return tmp_path


def test_classes_labels_and_shapes(tiny):
    data = image_folder.ImageFolder(tiny, image_folder.train_transform(32))
    assert data.classes == ["n01", "n02", "n03"] and len(data) == 12
    x, label = data[5]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and label == 1
    loader = torch.utils.data.DataLoader(data, batch_size=4, num_workers=0)
    images, labels = next(iter(loader))
    assert images.shape == (4, 3, 32, 32) and labels.tolist() == [0, 0, 0, 0]


def test_augmentation_is_seeded_per_epoch_and_image(tiny):
    data = image_folder.ImageFolder(tiny, image_folder.train_transform(32), seed=3)
    first = data[2][0]
    assert torch.equal(first, data[2][0])  # the same epoch, the same draw
    data.set_epoch(1)
    assert not torch.equal(first, data[2][0])  # a new epoch, a new crop
    again = image_folder.ImageFolder(tiny, image_folder.train_transform(32), seed=3)
    assert torch.equal(first, again[2][0])


def test_eval_transform_is_the_centre_crop_normalised(tiny):
    data = image_folder.ImageFolder(tiny, image_folder.eval_transform(24, 28))
    x, _ = data[0]
    assert x.shape == (3, 24, 24)
    assert torch.equal(x, data[0][0])  # no randomness
    flat = image_folder.ImageFolder(tiny, image_folder.eval_transform(24, 28))
    assert abs(float(flat[0][0].mean())) < 3  # normalised by ImageNet's statistics


def test_random_resized_box_stays_inside_and_keeps_the_ratio_bounds():
    generator = torch.Generator().manual_seed(0)
    for _ in range(200):
        left, top, right, bottom = image_folder.random_resized_box(50, 30, generator)
        assert 0 <= left < right <= 50 and 0 <= top < bottom <= 30
    # a box that cannot be drawn at the ratio falls back to the centre crop
    assert image_folder.random_resized_box(100, 1, generator, scale=(0.9, 1.0)) == (49, 0, 50, 1)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: image_folder.ImageFolder(p / "missing", image_folder.eval_transform()), "root must be a folder"),
        (lambda p: image_folder.eval_transform(300, 256), r"size \(300\) must be at most resize \(256\)"),
        (lambda p: image_folder.train_transform(0), "size must be an integer >= 1"),
    ],
)
def test_bad_arguments_are_named(tmp_path, make, message):
    with pytest.raises(ValueError, match=message):
        make(tmp_path)


def test_an_empty_class_folder_is_named(tiny):
    (tiny / "n04").mkdir()
    with pytest.raises(ValueError, match="class folder\\(s\\) n04 .* hold no images"):
        image_folder.ImageFolder(tiny, image_folder.eval_transform())
