"""Every stage that reads the test set reads it through the one loader that checks it
(dataset.load_split): a labels file that does not match its images stops each of them with
the file and the problem named, before any work."""

import numpy as np
import pytest

from conftest import default_settings
from mnist_filters.dataset import FILES
from mnist_filters.errors import IdxFormatError
from mnist_filters.idx import read_idx, write_idx
from mnist_filters.network.build import build_model
from mnist_filters.stages.evolution import trace_evolution
from mnist_filters.stages.feature_visualisation import visualise_features
from mnist_filters.stages.invariance import measure_invariance
from mnist_filters.stages.occlusion import occlude

SETTINGS = default_settings()


@pytest.fixture(scope="module")
def bad_test_set(tiny_mnist, tmp_path_factory):
    """The model, the test images, and test labels one short of the images, one above 9."""
    folder = tmp_path_factory.mktemp("bad-test-set")
    model = folder / "model.keras"
    build_model(SETTINGS["model"], seed=0, portable=True).save(model)
    labels = read_idx(tiny_mnist / FILES["test_labels"])
    short = folder / "short-labels.gz"
    write_idx(short, labels[:-1])
    out_of_range = folder / "labels-out-of-range.gz"
    write_idx(out_of_range, np.where(np.arange(len(labels)) == 3, 12, labels).astype(np.uint8))
    return model, tiny_mnist / FILES["test_images"], {"short": short, "range": out_of_range}


STAGES = {
    "trace_evolution": lambda m, images, labels, out: trace_evolution(
        str(m),
        str(out / "snapshots.h5"),
        str(images),
        str(labels),
        str(out / "e.csv"),
        layers=["conv1"],
        batch_size=100,
    ),
    "visualise_features": lambda m, images, labels, out: visualise_features(
        str(m),
        str(images),
        str(out / "f.h5"),
        settings=SETTINGS["feature_visualisation"],
        test_labels=str(labels),
        class_names=[str(c) for c in range(10)],
    ),
    "measure_invariance": lambda m, images, labels, out: measure_invariance(
        str(m),
        str(images),
        str(labels),
        str(out / "i.csv"),
        str(out / "i.h5"),
        images=5,
        seed=0,
        ranges={},
        layers=["conv1"],
        batch_size=100,
    ),
    "occlude": lambda m, images, labels, out: occlude(
        str(m),
        str(images),
        str(labels),
        str(out / "mistakes.csv"),
        str(out / "o.h5"),
        images=[0],
        size=8,
        stride=4,
        fill=None,
        layer="conv2",
        batch_size=100,
    ),
}
PROBLEMS = {
    "short": "holds 499 labels but",
    "range": r"1 labels are outside 0..9 \(first: label 12 at item 3\)",
}


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_refuses_a_test_set_the_loader_refuses(bad_test_set, tmp_path, stage, problem):
    model, images, labels = bad_test_set
    with pytest.raises(IdxFormatError, match=PROBLEMS[problem]) as refused:
        STAGES[stage](model, images, labels[problem], tmp_path)
    assert str(labels[problem]) in str(refused.value)
    assert not [p for p in tmp_path.iterdir() if p.suffix in (".csv", ".h5")]
