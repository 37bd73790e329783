import numpy as np
import pytest

from mnist_filters.batches import epoch_order, step_batches


def test_epoch_is_a_pure_function_of_seed_and_epoch():
    assert np.array_equal(epoch_order(3, 5, 1000, 50), epoch_order(3, 5, 1000, 50))
    assert not np.array_equal(epoch_order(3, 5, 1000, 50), epoch_order(3, 6, 1000, 50))
    assert not np.array_equal(epoch_order(3, 5, 1000, 50), epoch_order(4, 5, 1000, 50))


def test_batches_within_an_epoch_are_drawn_without_replacement():
    order = epoch_order(0, 0, 1030, 50)
    assert order.shape == (20, 50)
    assert len(np.unique(order)) == 1000 and order.min() >= 0 and order.max() < 1030


def test_steps_across_epochs_follow_the_epoch_orders():
    n, batch = 230, 50  # 4 batches per epoch
    steps = step_batches(1, 0, 11, n, batch)
    expected = np.concatenate([epoch_order(1, e, n, batch) for e in range(3)])[:11]
    assert np.array_equal(steps, expected)
    # any window of steps is the same slice of the schedule (what resuming relies on)
    assert np.array_equal(step_batches(1, 3, 9, n, batch), steps[3:9])
    assert np.array_equal(step_batches(1, 8, 9, n, batch)[0], steps[8])


def test_batch_larger_than_the_data_is_rejected():
    with pytest.raises(ValueError, match="does not fit"):
        step_batches(0, 0, 1, 10, 50)
