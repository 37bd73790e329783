"""What a user sees while the workflow runs: one whole progress line per step on the terminal."""

import io
import re

from conftest import TERMINAL, TINY_DEFAULTS
from mnist_filters.progress import Progress, duration

STEPS = TINY_DEFAULTS["training"]["steps"]
LOG_EVERY = TINY_DEFAULTS["training"]["log_every"]
# run, step, steps, batch accuracy, validation accuracy, examples/s, time left: in this order
TRAINING_LINE = re.compile(
    r"(?P<run>\S+) train: step (?P<step>\d+)/(?P<steps>\d+), batch accuracy "
    r"(?P<batch>[01]\.\d{3}), "
    r"validation accuracy (?P<validation>[01]\.\d{4}), (?P<speed>\d+|--) examples/s, "
    r"(?P<left>time left unknown|(\d+ h )?(\d+ min )?\d+ s left|\d+ h \d+ min left)"
)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def progress_lines(**options):
    clock, stream = Clock(), io.StringIO()
    return clock, stream, Progress("run1 stage", 100, stream, clock=clock, **options)


def test_duration_reads_like_a_person_would_say_it():
    assert [duration(s) for s in (0, 7.4, 59.6, 185, 3725)] == [
        "0 s",
        "7 s",
        "1 min 00 s",
        "3 min 05 s",
        "1 h 02 min",
    ]


def test_each_update_is_one_whole_line_with_the_time_left_at_the_pace_so_far():
    clock, stream, progress = progress_lines()
    progress.update(0, "0/100 images")
    clock.now += 10
    progress.update(25, "25/100 images")
    clock.now += 30
    progress.update(100, "100/100 images")
    assert stream.getvalue().splitlines() == [
        "run1 stage: 0/100 images, time left unknown",
        "run1 stage: 25/100 images, 30 s left",  # 25 in 10 s: 75 more take 30 s
        "run1 stage: 100/100 images, 0 s left",
    ]


def test_a_short_task_is_silent_and_a_long_one_speaks_every_few_seconds():
    clock, stream, progress = progress_lines(after_seconds=3, every_seconds=2)
    for done in range(0, 101, 10):  # 1 s apart: 10 s in all
        progress.update(done, f"{done}")
        clock.now += 1
    numbers = [line.split(": ")[1].split(",")[0] for line in stream.getvalue().splitlines()]
    assert numbers == [
        "30",
        "50",
        "70",
        "90",
        "100",
    ]  # none before 3 s, then every 2 s, and the end
    clock, stream, progress = progress_lines(after_seconds=3, every_seconds=2)
    progress.update(50, "50")
    clock.now += 2
    progress.update(100, "100")
    assert stream.getvalue() == ""


def test_a_resumed_task_paces_itself_from_where_it_resumed():
    clock, stream, progress = progress_lines(start=60)
    clock.now += 8
    progress.update(80, "80")
    assert stream.getvalue() == "run1 stage: 80, 8 s left\n"


def training_lines(terminal: str) -> dict[str, list[re.Match]]:
    """Run -> its training progress lines, in order; every line mentioning `train:` must parse
    whole."""
    by_run: dict[str, list[re.Match]] = {}
    for line in terminal.splitlines():
        if " train: " in line:
            match = TRAINING_LINE.fullmatch(line)
            assert match, f"not a whole progress line: {line!r}"
            by_run.setdefault(match["run"], []).append(match)
    return by_run


def test_training_shows_a_line_per_log_point_on_the_terminal(tiny_run):
    lines = training_lines((tiny_run / TERMINAL).read_text())["tiny"]
    assert [int(m["step"]) for m in lines] == list(range(0, STEPS + 1, LOG_EVERY))
    assert {int(m["steps"]) for m in lines} == {STEPS}
    assert lines[0]["speed"] == "--" and all(int(m["speed"]) > 0 for m in lines[1:])
    assert lines[-1]["left"] == "0 s left"
    log = (tiny_run / "logs" / "mnist" / "tiny" / "train.log").read_text()
    for m in lines:  # the log keeps the notebook's lines, with the same accuracies
        assert f"step {m['step']}, training accuracy {float(m['batch']):g}" in log
    assert " train: step" not in log
    with open(tiny_run / "results" / "mnist" / "tiny" / "training_log.csv") as handle:
        rows = [row.split(",") for row in handle.read().splitlines()[1:]]
    assert [f"{float(row[3]):.4f}" for row in rows] == [m["validation"] for m in lines]


def test_runs_training_side_by_side_print_whole_lines_each_named(tiny_sweep):
    by_run = training_lines((tiny_sweep / TERMINAL).read_text())
    assert len(by_run) == 4
    for run, lines in by_run.items():
        assert [int(m["step"]) for m in lines] == list(range(0, STEPS + 1, LOG_EVERY)), run
        assert lines[-1]["left"] == "0 s left"


def test_a_long_dump_prints_images_done_and_total(tiny_mnist, tiny_run, tmp_path, monkeypatch):
    from mnist_filters import progress
    from mnist_filters.dataset import FILES
    from mnist_filters.stages import activations

    assert progress.PROGRESS_AFTER_SECONDS == 3.0  # then, for this test, lines from the start
    stream = io.StringIO()
    monkeypatch.setattr(activations, "terminal", lambda: stream)
    monkeypatch.setattr(progress, "PROGRESS_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(progress, "PROGRESS_EVERY_SECONDS", 0.0)
    activations.dump_activations(
        str(tiny_run / "results" / "mnist" / "tiny" / "model.keras"),
        str(tiny_mnist / FILES["test_images"]),
        str(tiny_mnist / FILES["test_labels"]),
        str(tmp_path / "a.h5"),
        layers=["conv1"],
        batch_size=200,
        compression="none",
        chunk_bytes=1 << 20,
        run="tiny",
    )
    lines = stream.getvalue().splitlines()
    assert [line.split(", ")[0] for line in lines] == [
        f"tiny dump_activations: {n}/500 images" for n in (200, 400, 500)
    ]
    assert lines[-1].endswith(", 0 s left")


def test_a_long_projection_prints_patches_done_and_total(
    tiny_mnist, tiny_run, tmp_path, monkeypatch
):
    from mnist_filters import progress
    from mnist_filters.dataset import FILES
    from mnist_filters.stages import projections

    stream = io.StringIO()
    monkeypatch.setattr(projections, "terminal", lambda: stream)
    monkeypatch.setattr(progress, "PROGRESS_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(progress, "PROGRESS_EVERY_SECONDS", 0.0)
    results = tiny_run / "results" / "mnist" / "tiny"
    projections.project_patches(
        str(results / "model.keras"),
        str(tiny_mnist / FILES["test_images"]),
        str(results / "rankings.csv"),
        str(tmp_path / "p.h5"),
        layers=["conv1"],
        methods=["guided", "gradient"],
        batch_size=128,
        run="tiny",
    )
    units = len((results / "rankings.csv").read_text().splitlines()) - 1
    counts = [int(line.split(": ")[1].split("/")[0]) for line in stream.getvalue().splitlines()]
    assert counts[-1] == 2 * units and counts == sorted(counts)
    assert all(f"/{2 * units} projected patches" in line for line in stream.getvalue().splitlines())
    assert stream.getvalue().splitlines()[-1].endswith(", 0 s left")
