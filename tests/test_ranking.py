import numpy as np
import pytest

from mnist_filters.ranking import NonFiniteActivation, TopK, top_k


def brute_force(activations, k, filters, one_per_image=False):
    """The notebook's ranking (np.argsort over everything), with our deterministic tie rule."""
    n, h, w, _ = activations.shape
    result = []
    for f in filters:
        values = activations[..., f].reshape(n, h * w)
        if one_per_image:
            within = values.argmax(axis=1)
            flat_values = values[np.arange(n), within]
            positions = np.arange(n) * h * w + within
        else:
            flat_values = values.ravel()
            positions = np.arange(n * h * w)
        order = np.lexsort((positions, -flat_values.astype(np.float64)))[:k]
        for rank, i in enumerate(order, start=1):
            image, rest = divmod(int(positions[i]), h * w)
            result.append((f, rank, image, *divmod(rest, w), float(flat_values[i])))
    return result


def as_tuples(hits):
    return [(h.filter, h.rank, h.image, h.row, h.col, h.activation) for h in hits]


def in_blocks(array, sizes):
    start = 0
    for size in sizes:
        yield array[start : start + size]
        start += size


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("one_per_image", [False, True])
def test_matches_brute_force_with_ties_and_uneven_blocks(seed, one_per_image):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 60))
    # few distinct values and many zeros (as after a ReLU): ties everywhere
    activations = np.maximum(rng.integers(-3, 4, (n, 5, 4, 6)), 0).astype(np.float32) / 2
    sizes = []
    while sum(sizes) < n:
        sizes.append(int(rng.integers(1, 9)))
    k = int(rng.integers(1, 15))
    filters = sorted(rng.choice(6, size=int(rng.integers(1, 7)), replace=False).tolist())
    hits = top_k(in_blocks(activations, sizes), k, filters, (5, 4), one_per_image)
    assert as_tuples(hits) == brute_force(activations, k, filters, one_per_image)


def test_continuous_values_match_argsort_exactly():
    activations = np.random.default_rng(9).normal(size=(300, 9, 9, 25)).astype(np.float32)
    hits = top_k(in_blocks(activations, [64] * 5), 12, list(range(25)), (9, 9))
    for f in range(25):
        notebook = np.argsort(activations[..., f], axis=None)[-12:][::-1]  # the notebook's line
        ours = [
            np.ravel_multi_index((h.image, h.row, h.col), (300, 9, 9))
            for h in hits
            if h.filter == f
        ]
        assert ours == notebook.tolist()


def test_all_zero_filter_ranks_the_first_positions():
    activations = np.zeros((4, 3, 3, 2), np.float32)
    hits = top_k([activations[:2], activations[2:]], 5, [1], (3, 3))
    assert [(h.image, h.row, h.col) for h in hits] == [
        (0, 0, 0),
        (0, 0, 1),
        (0, 0, 2),
        (0, 1, 0),
        (0, 1, 1),
    ]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("one_per_image", [False, True])
def test_non_finite_values_are_refused_not_skipped(bad, one_per_image):
    blocks = np.random.default_rng(1).uniform(size=(30, 3, 3, 4)).astype(np.float32)
    blocks[17, 1, 2, 3] = bad
    ranker = TopK(5, [0, 1, 2, 3], (3, 3), one_per_image)
    ranker.update(blocks[:10])
    with pytest.raises(NonFiniteActivation) as error:
        ranker.update(blocks[10:])
    assert (error.value.filter, error.value.image) == (3, 17)


def test_k_larger_than_the_positions_is_rejected():
    activations = np.ones((2, 3, 3, 1), np.float32)
    with pytest.raises(ValueError, match="top_k is 19 but only 18 positions exist"):
        top_k([activations], 19, [0], (3, 3))
    with pytest.raises(ValueError, match="top_k is 3 but only 2 positions exist"):
        top_k([activations], 3, [0], (3, 3), one_per_image=True)


def test_one_per_image_takes_distinct_images():
    activations = np.random.default_rng(1).random((50, 9, 9, 3)).astype(np.float32)
    hits = top_k([activations], 12, [0, 1, 2], (9, 9), one_per_image=True)
    for f in range(3):
        images = [h.image for h in hits if h.filter == f]
        assert len(set(images)) == 12


def test_state_stays_small():
    ranker = TopK(12, list(range(25)), (9, 9))
    for block in in_blocks(
        np.random.default_rng(2).random((1000, 9, 9, 25)).astype(np.float32), [100] * 10
    ):
        ranker.update(block)
        assert all(len(v) <= 12 for v in ranker.values)


@pytest.mark.parametrize("rows", [1, 63, 64, 65, 1000])
def test_column_max(rows):
    from mnist_filters.ranking import column_max

    values = np.random.default_rng(rows).normal(size=(rows, 7)).astype(np.float32)
    np.testing.assert_array_equal(column_max(values), values.max(axis=0))
