"""The cast testbed (sebook.data): three garments per image, the labelled one in the channel a light tints."""

import hashlib

import pytest
import torch

from sebook.data import (
    CAST_FRAME,
    CAST_TINT,
    DATASETS,
    compose_cast_images,
    load_cast_fashion_mnist,
    load_dataset,
    load_fashion_mnist,
    lit_channels,
)


def test_lit_channels_are_one_hot_and_seeded():
    lit = lit_channels(1000, torch.Generator().manual_seed(0))
    assert lit.shape == (1000, 3) and torch.equal(lit.sum(1), torch.ones(1000))
    assert torch.equal(lit, lit_channels(1000, torch.Generator().manual_seed(0)))
    counts = lit.sum(0)
    assert counts.min() > 280  # each channel is lit about a third of the time


def test_the_lit_channel_holds_the_labelled_garment_and_a_lit_frame():
    grey = torch.rand(6, 1, 5, 5)
    lit = torch.eye(3).repeat(2, 1)
    images = compose_cast_images(
        grey, lit, torch.Generator().manual_seed(0), tint=0.7, frame=1
    )
    assert images.shape == (6, 3, 7, 7)
    inside = images[:, :, 1:-1, 1:-1]
    border = images.clone()
    border[:, :, 1:-1, 1:-1] = 0
    for i in range(6):
        k = int(lit[i].argmax())
        assert torch.equal(inside[i, k], grey[i, 0])
        assert torch.equal(
            border[i, k].sum(), torch.tensor(0.7 * 24)
        )  # the 24 frame pixels are lit
        for j in set(range(3)) - {
            k
        }:  # the distractors: other images of the set, in unlit frames
            assert any(
                torch.equal(inside[i, j], grey[m, 0]) for m in range(6) if m != i
            )
            assert border[i, j].abs().sum() == 0


def test_splits_are_deterministic_and_labelled_by_the_lit_garment():
    images, labels, lit = load_cast_fashion_mnist("test")
    grey, grey_labels = load_fashion_mnist("test")
    f = CAST_FRAME
    assert (
        images.shape == (10_000, 3, 28 + 2 * f, 28 + 2 * f)
        and images.dtype == torch.float32
    )
    assert torch.equal(labels, grey_labels)
    k = lit.argmax(1)
    assert torch.equal(images[torch.arange(10_000), k, f:-f, f:-f], grey[:, 0])
    assert torch.all(images[torch.arange(10_000), k, 0] == CAST_TINT)
    fingerprint = hashlib.sha256(images.numpy().tobytes()).hexdigest()
    from sebook import data

    data._cast_split.cache_clear()
    again, _, _ = load_cast_fashion_mnist("test")
    assert hashlib.sha256(again.numpy().tobytes()).hexdigest() == fingerprint


def test_load_dataset_serves_both_sets():
    assert DATASETS[:2] == ("fashion-mnist", "cast-fashion-mnist")
    assert load_dataset("cast-fashion-mnist", "test")[0].shape[1] == 3
    assert load_dataset("fashion-mnist", "test")[0].shape[1] == 1


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: load_dataset("mnist", "test"),
            ValueError,
            "dataset must be one of 'fashion-mnist', 'cast-fashion-mnist'",
        ),
        (
            lambda: load_cast_fashion_mnist("valid"),
            ValueError,
            "split must be one of 'train', 'test'",
        ),
        (
            lambda: lit_channels(0, torch.Generator()),
            ValueError,
            "n must be an integer >= 1",
        ),
        (
            lambda: compose_cast_images(
                torch.rand(2, 3, 4, 4), torch.eye(3)[:2], torch.Generator()
            ),
            ValueError,
            "images has the wrong number of channels: expected 1, got 3",
        ),
        (
            lambda: compose_cast_images(
                torch.rand(2, 1, 4, 4), torch.eye(3), torch.Generator()
            ),
            ValueError,
            r"lit must be a tensor of shape \(2, 3\)",
        ),
        (
            lambda: compose_cast_images(
                torch.rand(2, 1, 4, 4), torch.eye(3)[:2], torch.Generator(), tint=-1
            ),
            ValueError,
            "tint must be a number >= 0",
        ),
        (
            lambda: compose_cast_images(
                torch.rand(2, 1, 4, 4), torch.eye(3)[:2], torch.Generator(), frame=0
            ),
            ValueError,
            "frame must be an integer >= 1",
        ),
    ],
)
def test_bad_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_variants_keep_the_garments_and_change_only_the_frame_or_the_order():
    images, labels, lit = load_cast_fashion_mnist("test")
    f = CAST_FRAME
    for name, tint in (
        ("cast-fashion-mnist-tint-0.5", 0.5 * CAST_TINT),
        ("cast-fashion-mnist-tint-0", 0.0),
    ):
        variant, variant_labels = load_dataset(name, "test")
        assert torch.equal(variant_labels, labels)
        assert torch.equal(variant[:, :, f:-f, f:-f], images[:, :, f:-f, f:-f])
        assert variant[:, :, 0, :].max().item() == tint
    oracle, _ = load_dataset("cast-fashion-mnist-oracle", "test")
    first = lit.argmax(1)
    assert torch.equal(oracle[:, 0], images[torch.arange(len(images)), first])
    assert oracle[:, 0, 0, :].min().item() == CAST_TINT  # the lit frame is always first
    assert oracle[:, 1:, 0, :].abs().max().item() == 0
    with pytest.raises(ValueError, match="variant"):
        load_cast_fashion_mnist("test", variant="cast-fashion-mnist-tint-2")
