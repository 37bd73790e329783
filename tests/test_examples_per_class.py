"""Training on a class-balanced number of examples per class (training.examples_per_class)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from conftest import default_settings
from mnist_filters.dataset import FILES, class_balanced, load_split, to_model_input
from mnist_filters.stages.train import training_data


def test_exactly_k_of_each_label_drawn_by_the_seed_and_nested():
    labels = np.random.default_rng(0).integers(0, 10, 3000).astype(np.uint8)
    chosen = class_balanced(labels, 20, seed=4)
    assert (np.diff(chosen) > 0).all()  # ascending, no repeats
    assert np.bincount(labels[chosen], minlength=10).tolist() == [20] * 10
    np.testing.assert_array_equal(class_balanced(labels, 20, seed=4), chosen)
    other = class_balanced(labels, 20, seed=5)
    assert len(np.intersect1d(other, chosen)) < len(chosen) // 2
    # the same seed keeps the smaller number's images: nested training sets
    assert np.isin(class_balanced(labels, 5, seed=4), chosen).all()


def test_a_class_too_small_is_named():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 8, np.uint8)
    with pytest.raises(ValueError, match="label 1 has 3"):
        class_balanced(labels, 4, seed=0, held_out=100)


def test_the_training_images_are_k_per_class_and_none_validates(tiny_mnist):
    inputs = {key: str(tiny_mnist / name) for key, name in FILES.items()}
    training = copy.deepcopy(default_settings()["training"])
    training.update(validation_size=200, examples_per_class=30, batch_size=50)
    data = training_data(inputs, training, (28, 28), seed=3)
    assert np.bincount(data.y_train, minlength=10).tolist() == [30] * 10
    train = load_split(inputs["train_images"], inputs["train_labels"])
    kept = 200 + class_balanced(train.labels[200:], 30, seed=3)
    assert kept.min() >= 200  # the first 200 validate
    np.testing.assert_array_equal(data.x_train, to_model_input(train.images[kept]))
    np.testing.assert_array_equal(data.y_valid, train.labels[:200])
    again = training_data(inputs, training, (28, 28), seed=4)
    assert not np.array_equal(again.x_train, data.x_train)
