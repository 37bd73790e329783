"""The `seed` run on real MNIST digits (../shared/data/mnist-subset) with the full 2000 steps."""

import pytest
import yaml

from conftest import REPO, SHARED_MNIST, needs_shared_mnist, snakemake

pytestmark = [pytest.mark.slow, pytest.mark.real_data, needs_shared_mnist()]


def test_seed_run_reaches_the_notebooks_accuracy(tmp_path):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["data"] = {"local_dir": str(SHARED_MNIST)}
    snakemake(tmp_path, config, timeout=1800)
    from helpers import metrics

    m = metrics(tmp_path, "seed")
    assert m["steps"] == 2000 and m["batch_size"] == 50 and m["train_images"] == 19690 - 5000
    assert m["test_images"] == 10000
    assert m["test_accuracy"] >= 0.97, m["test_accuracy"]
    assert m["input_sha256"]["t10k-images-idx3-ubyte.gz"] == (
        "b3d1ecee69772f10ad3399fcfc183a460646f07b37c22f1e3902096b8afcbc32"
    )
