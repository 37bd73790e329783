"""A rule's code digest covers exactly the code it runs, and ignores what cannot change
behaviour."""

import json
import os
import shutil

import pytest

from conftest import REPO
from mnist_filters import code_digest as module
from mnist_filters.code_digest import closure, code_digest

SCRIPTS = REPO / "scripts"


def names(script):
    return {p.relative_to(SCRIPTS).as_posix() for p in closure(SCRIPTS / script, SCRIPTS)}


def test_each_rule_covers_its_own_modules_only():
    rank = names("rank_patches.py")
    assert {
        "rank_patches.py",
        "mnist_filters/ranking.py",
        "mnist_filters/stages/rank.py",
        "mnist_filters/network/geometry.py",
        "mnist_filters/runlog.py",
        "mnist_filters/__init__.py",
        "mnist_filters/stages/__init__.py",
    } <= rank
    assert "mnist_filters/network/build.py" not in rank and "mnist_filters/download.py" not in rank
    # imports inside functions count: the training stage imports the model lazily
    assert {"mnist_filters/network/build.py", "mnist_filters/network/training_loop.py"} <= names(
        "train.py"
    )
    filters = names("plot_filters.py")
    assert "mnist_filters/stages/figures/filters.py" in filters
    assert "mnist_filters/stages/figures/style.py" in filters
    assert "mnist_filters/stages/figures/samples.py" not in filters
    assert "mnist_filters/network/build.py" not in names(
        "dump_activations.py"
    )  # the saved model is plain Keras


@pytest.fixture
def tree(tmp_path):
    copy = tmp_path / "scripts"
    shutil.copytree(SCRIPTS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def edited(tree, path, old, new):
    file = tree / path
    text = file.read_text()
    assert old in text
    file.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    "old, new",
    [
        ("import numpy as np\n", "import numpy as np  # a comment\n\n\n"),
        ("def column_max(", "# a new comment line\ndef column_max("),
        (
            '"""values.max(axis=0) of an (m, c) array',
            '"""The column maxima of an (m, c) array',
        ),  # a docstring
        ("    m, c = values.shape\n", "    m, c = (values.shape)\n"),  # layout only
    ],
)
def test_comments_layout_and_docstrings_change_nothing(tree, old, new):
    before = code_digest(tree / "rank_patches.py", tree)
    edited(tree, "mnist_filters/ranking.py", old, new)
    assert code_digest(tree / "rank_patches.py", tree) == before


def test_a_code_change_changes_the_digest_of_the_rules_that_run_it(tree):
    before = {
        s: code_digest(tree / s, tree) for s in ("rank_patches.py", "train.py", "plot_samples.py")
    }
    edited(tree, "mnist_filters/ranking.py", "group: int = 64", "group: int = 32")
    after = {s: code_digest(tree / s, tree) for s in before}
    assert after["rank_patches.py"] != before["rank_patches.py"]
    assert (
        after["train.py"] == before["train.py"]
        and after["plot_samples.py"] == before["plot_samples.py"]
    )


def test_the_dump_and_the_projections_share_model_loading_but_not_each_others_code(tree):
    """An edit to the dump's stage changes the dump's digest only; one to the shared model
    loading changes both (their outputs still follow by data, as Snakemake plans)."""
    scripts = ("dump_activations.py", "project_patches.py")
    before = {s: code_digest(tree / s, tree) for s in scripts}
    edited(
        tree,
        "mnist_filters/stages/activations.py",
        "return max(1, chunk_bytes",
        "return max(2, chunk_bytes",
    )
    after = {s: code_digest(tree / s, tree) for s in scripts}
    assert after["dump_activations.py"] != before["dump_activations.py"]
    assert after["project_patches.py"] == before["project_patches.py"]
    edited(
        tree,
        "mnist_filters/network/model_file.py",
        "except (LayerError, KeyError) as error:",
        "except LayerError as error:",
    )
    assert all(code_digest(tree / s, tree) != after[s] for s in scripts)


def test_relative_imports_are_followed(tree):
    (tree / "mnist_filters" / "extra.py").write_text("VALUE = 1\n")
    edited(
        tree,
        "mnist_filters/ranking.py",
        "import numpy as np\n",
        "import numpy as np\n\nfrom .extra import VALUE\n",
    )
    assert "mnist_filters/extra.py" in {
        p.relative_to(tree).as_posix() for p in closure(tree / "rank_patches.py", tree)
    }
    before = code_digest(tree / "rank_patches.py", tree)
    (tree / "mnist_filters" / "extra.py").write_text("VALUE = 2\n")
    assert code_digest(tree / "rank_patches.py", tree) != before


def test_the_cache_file_gives_the_same_digests_without_parsing(tree, tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "code.json"
    plain = code_digest(tree / "train.py", tree)
    assert code_digest(tree / "train.py", tree, cache=cache) == plain
    assert cache.is_file()
    # a new process: nothing parsed yet, and parsing is not allowed
    monkeypatch.setattr(module, "_parsed", {})
    monkeypatch.setattr(module, "_used", set())
    monkeypatch.setattr(module, "_cache_files", {})
    monkeypatch.setattr(module, "_parse_source", lambda *a: pytest.fail("parsed despite the cache"))
    assert code_digest(tree / "train.py", tree, cache=cache) == plain


def test_an_edited_file_misses_the_cache(tree, tmp_path, monkeypatch):
    cache = tmp_path / "code.json"
    before = code_digest(tree / "rank_patches.py", tree, cache=cache)
    monkeypatch.setattr(module, "_parsed", {})
    monkeypatch.setattr(module, "_used", set())
    monkeypatch.setattr(module, "_cache_files", {})
    edited(tree, "mnist_filters/ranking.py", "group: int = 64", "group: int = 32")
    assert code_digest(tree / "rank_patches.py", tree, cache=cache) != before


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"k": 3}', '{"k": ["t", [1]]}', ""])
def test_a_damaged_cache_is_ignored_and_rewritten(tree, tmp_path, monkeypatch, content):
    plain = code_digest(tree / "rank_patches.py", tree)
    cache = tmp_path / "code.json"
    cache.write_text(content)
    monkeypatch.setattr(module, "_parsed", {})
    monkeypatch.setattr(module, "_used", set())
    monkeypatch.setattr(module, "_cache_files", {})
    assert code_digest(tree / "rank_patches.py", tree, cache=cache) == plain
    assert isinstance(json.loads(cache.read_text()), dict)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_unwritable_cache_folder_only_costs_time(tree, tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert code_digest(
            tree / "rank_patches.py", tree, cache=folder / "code.json"
        ) == code_digest(tree / "rank_patches.py", tree)
        assert not (folder / "code.json").exists()
    finally:
        folder.chmod(0o700)


MARKED = (
    "mnist_filters/log_filter.py",
    "mnist_filters/progress.py",
    "mnist_filters/transfer_plan.py",
)


def test_modules_marked_as_changing_no_output_are_in_no_digest():
    every_rule = {p.name for p in SCRIPTS.glob("*.py")}
    covered = set().union(*(names(script) for script in every_rule))
    assert not covered & set(MARKED)
    # the marked modules are imported, by the stages' runner and by the data stage
    assert (
        "from mnist_filters.log_filter import" in (SCRIPTS / "mnist_filters/runlog.py").read_text()
    )
    assert "mnist_filters.transfer_plan import" in (SCRIPTS / "get_mnist.py").read_text()


@pytest.mark.parametrize(
    "path, old, new",
    [
        ("mnist_filters/log_filter.py", r"cudart_stub\.cc", r"cudart_stubs?\.cc"),
        (
            "mnist_filters/progress.py",
            "PROGRESS_AFTER_SECONDS = 3.0",
            "PROGRESS_AFTER_SECONDS = 5.0",
        ),
        (
            "mnist_filters/transfer_plan.py",
            'FOLDER = "transfer"',
            'FOLDER = "transfer"  # results/\nX = 1',
        ),
    ],
    ids=["log-filter", "progress", "transfer-plan"],
)
def test_an_edit_to_a_marked_module_changes_no_digest(tree, path, old, new):
    scripts = [p.name for p in tree.glob("*.py")]
    before = {s: code_digest(tree / s, tree) for s in scripts}
    edited(tree, path, old, new)
    module._parsed.clear()
    assert {s: code_digest(tree / s, tree) for s in scripts} == before


def test_without_the_marker_the_same_edit_changes_digests(tree):
    """The marker is what keeps the module out: removed, an edit to the module reruns the rules
    that import it."""
    scripts = [p.name for p in tree.glob("*.py")]
    edited(
        tree, "mnist_filters/progress.py", "CHANGES_NO_OUTPUT = True", "CHANGES_NO_OUTPUT = False"
    )
    before = {s: code_digest(tree / s, tree) for s in scripts}
    edited(
        tree,
        "mnist_filters/progress.py",
        "PROGRESS_AFTER_SECONDS = 3.0",
        "PROGRESS_AFTER_SECONDS = 5.0",
    )
    after = {s: code_digest(tree / s, tree) for s in scripts}
    assert after["dump_activations.py"] != before["dump_activations.py"]
    assert after["rank_patches.py"] == before["rank_patches.py"]
