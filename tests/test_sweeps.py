"""Sweeps: grid expansion and run names, the comparison table, and the verify tool's comparisons."""

import json

import pytest
import yaml

from conftest import REPO
from mnist_filters.errors import ConfigError
from mnist_filters.formats.training_log import LogRow, write_training_log
from mnist_filters.schema import check_config
from mnist_filters.settings import SAFE_RUN_NAME, resolve_runs, sweep_runs
from mnist_filters.stages.compare import MEASURES, aligned_table, compare_runs, read_table
from mnist_filters.sweeps import (
    compared_settings,
    differing_settings,
    flatten,
    short_keys,
    value_token,
)

RUN_SCHEMA = yaml.safe_load((REPO / "schemas" / "run.schema.yaml").read_text())
CONFIG_SCHEMA = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
OPTIMIZERS = {
    "grid": {
        "training.optimizer": ["adam", "sgd", "rmsprop"],
        "training.learning_rate": [1e-4, 1e-3],
    }
}


def runs_of(sweeps, runs=None):
    config = {"defaults": {}, "runs": runs or {}, "sweeps": sweeps}
    check_config(config, CONFIG_SCHEMA)
    return resolve_runs(config, RUN_SCHEMA)


def test_a_grid_expands_in_the_order_written_first_setting_slowest():
    runs = runs_of({"optimizers": OPTIMIZERS})
    assert list(runs) == [
        "optimizers_optimizer~adam_learning_rate~0.0001",
        "optimizers_optimizer~adam_learning_rate~0.001",
        "optimizers_optimizer~sgd_learning_rate~0.0001",
        "optimizers_optimizer~sgd_learning_rate~0.001",
        "optimizers_optimizer~rmsprop_learning_rate~0.0001",
        "optimizers_optimizer~rmsprop_learning_rate~0.001",
    ]
    settings = runs["optimizers_optimizer~sgd_learning_rate~0.001"]
    assert (
        settings["training"]["optimizer"] == "sgd" and settings["training"]["learning_rate"] == 1e-3
    )
    assert (
        settings["training"]["steps"] == 2000
        and settings["model"]["layers"][0]["kernel_size"] == 12
    )  # defaults


def test_run_names_are_safe_and_stable_when_values_are_added():
    before = runs_of({"s": {"grid": {"training.learning_rate": [1e-4, 3e-4], "seed": [0]}}})
    after = runs_of({"s": {"grid": {"training.learning_rate": [1e-5, 1e-4, 3e-4], "seed": [0, 1]}}})
    assert set(before) < set(after)
    assert all(SAFE_RUN_NAME.match(name) for name in after)
    assert "s_learning_rate~1e-05_seed~1" in after


def test_base_overrides_defaults_and_grid_values_override_base():
    runs = runs_of(
        {
            "k": {
                "base": {"training": {"steps": 300, "learning_rate": 5e-4}},
                "grid": {"model.conv1.kernel_size": [8, 12], "training.learning_rate": [1e-3]},
            }
        }
    )
    settings = runs["k_kernel_size~8_learning_rate~0.001"]
    assert settings["training"]["steps"] == 300 and settings["training"]["learning_rate"] == 1e-3
    conv1 = settings["model"]["layers"][0]
    assert (conv1["name"], conv1["filters"], conv1["kernel_size"], conv1["strides"]) == (
        "conv1",
        25,
        8,
        2,
    )
    assert "conv1" not in settings["model"]  # the change is folded into the layer list
    assert flatten(settings)["model.conv1.kernel_size"] == 8


def test_ambiguous_setting_names_keep_enough_of_their_path():
    assert short_keys(["model.conv1.kernel_size", "model.conv2.kernel_size", "seed"]) == {
        "model.conv1.kernel_size": "conv1.kernel_size",
        "model.conv2.kernel_size": "conv2.kernel_size",
        "seed": "seed",
    }
    runs = runs_of(
        {"k": {"grid": {"model.conv1.kernel_size": [8], "model.conv2.kernel_size": [3]}}}
    )
    assert list(runs) == ["k_conv1.kernel_size~8_conv2.kernel_size~3"]


@pytest.mark.parametrize(
    "value, token",
    [
        (1e-4, "0.0001"),
        (3e-4, "0.0003"),
        (1e-5, "1e-05"),
        (0.1, "0.1"),
        (12, "12"),
        (True, "true"),
        (None, "null"),
        ("adam", "adam"),
        (["conv1", "conv2"], "conv1+conv2"),
    ],
)
def test_value_tokens_are_exact_and_filesystem_safe(value, token):
    assert value_token(value) == token


def test_command_line_strings_name_runs_as_their_numbers_do():
    """--config gives '1e-4' as a string; it is the number 0.0001 and names the run so."""
    config = {
        "defaults": {},
        "runs": {},
        "sweeps": {"s": {"grid": {"training.learning_rate": ["1e-4", "0.001"]}}},
    }
    assert list(sweep_runs(config, RUN_SCHEMA)) == [
        "s_learning_rate~0.0001",
        "s_learning_rate~0.001",
    ]
    assert (
        resolve_runs(config, RUN_SCHEMA)["s_learning_rate~0.0001"]["training"]["learning_rate"]
        == 1e-4
    )


@pytest.mark.parametrize(
    "sweeps, runs, message",
    [
        (
            {"s": {"grid": {"training.optimizer": ["adam", "adamw"]}}},
            None,
            "sweeps.s.grid: training.optimizer = 'adamw' is not a valid value: 'adamw' is not one "
            "of",
        ),
        (
            {"s": {"grid": {"training.learning_rate": [1e-4, -1]}}},
            None,
            "sweeps.s.grid: training.learning_rate = -1 is not a valid value: -1 is less than or "
            "equal to the minimum of 0",
        ),
        (
            {"s": {"grid": {"model.conv1.kernel_size": ["big"]}}},
            None,
            "sweeps.s.grid: model.conv1.kernel_size = 'big' is not a valid value: 'big' is not of "
            "type 'integer'",
        ),
        (
            {"s": {"grid": {"training.lerning_rate": [1e-4]}}},
            None,
            "sweeps.s.grid: 'training.lerning_rate' is not a run setting; did you mean "
            "'training.learning_rate'?",
        ),
        (
            {"s": {"grid": {"model.conv1": [8]}}},
            None,
            "sweeps.s.grid: 'model.conv1' is a group of settings",
        ),
        (
            {"s": {"base": {"trainig": {}}, "grid": {"seed": [1]}}},
            None,
            "sweeps.s.base: unknown key 'trainig'; did you mean 'training'?",
        ),
        (
            {"s": {"grid": {"seed": [1, 1]}}},
            None,
            "sweeps.s.grid.seed: 1 and 1 would name the same run (seed~1)",
        ),
        (
            {"s": {"grid": {"seed": [{"a": 1}]}}},
            None,
            "sweeps.s.grid.seed: {'a': 1} is not a single value",
        ),
        (
            {"s": {"grid": {"seed": [1]}}},
            {"s_seed~1": {}},
            "sweeps.s: its run s_seed~1 has the name of a run in `runs:`",
        ),
        ({"a": {"grid": {"b.x": [1]}}}, None, "'b.x' is not a run setting"),
        ({"runs": {"grid": {"seed": [1]}}}, None, "sweeps: 'runs' is not a usable sweep name"),
    ],
    ids=[
        "bad-enum",
        "bad-range",
        "bad-type",
        "unknown-setting",
        "group",
        "unknown-base-key",
        "same-name",
        "not-a-value",
        "clash-with-runs",
        "unknown-group",
        "reserved-name",
    ],
)
def test_bad_sweeps_name_the_sweep_the_setting_and_the_value(sweeps, runs, message):
    with pytest.raises(ConfigError) as error:
        runs_of(sweeps, runs)
    assert message in str(error.value)


def test_two_sweeps_making_the_same_run_name_is_an_error():
    """The sweep-name pattern (no '~') keeps names apart in practice; expansion checks anyway."""
    from mnist_filters.sweeps import expand_sweeps

    sweeps = {
        "s": {"grid": {"seed": [1], "training.steps": [5]}},
        "s_seed~1": {"grid": {"training.steps": [5]}},
    }
    with pytest.raises(
        ConfigError, match=r"sweeps.s_seed~1: its run s_seed~1_steps~5 is also a run of sweep s"
    ):
        expand_sweeps(sweeps)


def test_a_run_may_not_take_the_comparisons_folder():
    with pytest.raises(ConfigError, match="results/<data set>/sweeps/ holds the comparisons"):
        runs_of({}, {"sweeps": {}})


def test_the_sweep_schema_refuses_an_empty_grid_and_a_list_less_value():
    for sweep in ({"grid": {}}, {"grid": {"seed": 3}}, {"grid": {"seed": []}}, {"base": {}}):
        with pytest.raises(ConfigError):
            check_config({"runs": {}, "sweeps": {"s": sweep}}, CONFIG_SCHEMA)


def test_differing_settings_are_only_those_that_differ_grid_first():
    a = {"seed": 0, "training": {"steps": 5, "learning_rate": 0.1}, "figures": {"dpi": 100}}
    b = {"seed": 1, "training": {"steps": 5, "learning_rate": 0.2}, "figures": {"dpi": 100}}
    assert differing_settings({"a": a, "b": b}, first=["training.learning_rate"]) == [
        "training.learning_rate",
        "seed",
    ]
    assert differing_settings({"a": a, "c": a}) == []


def test_a_comparison_is_about_training_settings_and_the_grid():
    a = {"seed": 0, "training": {"steps": 5}, "ranking": {"top_k": 3}, "figures": {"dpi": 100}}
    b = {"seed": 0, "training": {"steps": 6}, "ranking": {"top_k": 4}, "figures": {"dpi": 50}}
    assert compared_settings({"a": a, "b": b}) == ["training.steps"]
    assert compared_settings({"a": a, "b": b}, grid=["ranking.top_k"]) == [
        "ranking.top_k",
        "training.steps",
    ]


def write_run(folder, metrics, log_rows):
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    write_training_log(str(folder / "training_log.csv"), [LogRow(*row) for row in log_rows])


def test_runs_csv_has_the_differing_settings_then_the_measures(tmp_path):
    metrics = {
        "test_accuracy": 0.97,
        "test_loss": 0.1,
        "train_seconds": 20.5,
        "train_examples_per_second": 4878.0,
        "weights_sha256": "ab" * 32,
    }
    write_run(
        tmp_path / "s_lr~0.1",
        metrics,
        [
            (0, 0.1, 2.0, 0.1, 1.0, 0.0),
            (100, 0.9, 0.3, 0.95, 2.0, 1.0),
            (200, 1.0, 0.1, 0.95, 3.0, 2.0),
        ],
    )
    write_run(
        tmp_path / "s_lr~0.2",
        {**metrics, "test_accuracy": 0.99},
        [(0, 0.1, 2.0, float("nan"), 1.0, 0.0)],
    )
    swept = {
        "s_lr~0.1": {"training.learning_rate": 0.1},
        "s_lr~0.2": {"training.learning_rate": 0.2},
    }
    out = tmp_path / "runs.csv"
    compare_runs(
        [str(tmp_path / run / "metrics.json") for run in swept],
        [str(tmp_path / run / "training_log.csv") for run in swept],
        str(out),
        swept=swept,
    )
    columns, rows = read_table(out)
    assert columns == ["run", "training.learning_rate", *MEASURES]
    assert (
        rows[0]["best_validation_accuracy"] == "0.95" and rows[0]["best_validation_step"] == "100"
    )
    assert rows[1]["best_validation_accuracy"] == "" and rows[1]["test_accuracy"] == "0.99"
    table = aligned_table(columns, rows).splitlines()
    assert table[0].split()[:3] == ["run", "learning_rate", "test"]
    assert table[2].startswith("s_lr~0.2") and table[3].startswith("s_lr~0.1")  # best first
    with pytest.raises(ValueError, match="out of order"):
        compare_runs(
            [str(tmp_path / run / "metrics.json") for run in reversed(swept)],
            [str(tmp_path / run / "training_log.csv") for run in swept],
            str(out),
            swept=swept,
        )
