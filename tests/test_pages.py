"""The gallery and the report of the shared run (every analysis on), opened in headless Chromium."""

from __future__ import annotations

import pytest

from conftest import open_page, snakemake
from mnist_filters.stages.mistakes import read_mistakes

pytestmark = pytest.mark.slow


def screenshot_is_drawn(path, tmp_path):
    import matplotlib.pyplot as plt

    shot = tmp_path / "shot.png"
    open_page(path, tmp_path, "--window-size=1200,1400", f"--screenshot={shot}").check_returncode()
    # at least 1 % of the pixels drawn, not page-white: text, figures, graphs. (The report's
    # side bar fades in, so how dark the page is depends on when the shot is taken.)
    return (plt.imread(shot)[..., :3].mean(axis=2) < 0.9).mean() > 0.01


def test_the_gallery_shows_every_analysis(tiny_run, tmp_path):
    """Beside the projections: a strip through training per filter, every mistake, and the
    occlusion and invariance figures, drawn without a console error."""
    run = tiny_run / "results" / "mnist" / "tiny"
    page = run / "gallery" / "index.html"
    result = open_page(page, tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom")
    dom = result.stdout
    for section in ("evolution-conv1", "evolution-conv2", "mistakes", "occlusion", "invariance"):
        assert f'id="{section}"' in dom, section
    for layer, units in (("conv1", 25), ("conv2", 64), ("logits", 10)):
        assert all(f'id="features-{layer}-u{u:02d}"' in dom for u in range(units)), layer
    # each projected filter's page shows its optimised input and its best test image
    assert dom.count('class="hits optimised"') == 25 + (25 + 64 + 10)
    assert all(f'id="evolution-conv2-f{f:02d}"' in dom for f in range(64))
    mistakes = len(read_mistakes(str(run / "mistakes.csv")))
    assert dom.count('class="hit mistake"') == mistakes > 0
    figures = len(list((run / "figures" / "occlusion").glob("*.png"))) + 4
    assert (
        dom.count('<img class="figure"') == figures == min(4, mistakes) + 4 + 4
    )  # mistakes, correct, transformations
    # projections: 25 filters x 12 hits x (image, patch, 3 methods); strips: (25 + 64) x 4 kept
    # steps; optimised input and best test image: on the 25 filters' pages and per unit of
    # conv1, conv2 and the logits
    assert dom.count("<canvas") == (
        25 * 12 * 5 + (25 + 64) * 4 + mistakes + 2 * 25 + 2 * (25 + 64 + 10)
    )
    console = [
        line for line in result.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line
    ]
    assert not console, console
    assert screenshot_is_drawn(page, tmp_path)


def test_the_report_holds_every_output_and_opens_with_every_analysis(tiny_run, tmp_path):
    report = tmp_path / "report.html"
    snakemake(
        tiny_run,
        None,
        "--configfile",
        str(tiny_run / "config.yaml"),
        "--replace-workflow-config",
        "--report",
        str(report),
    )
    html = report.read_text(errors="replace")
    for name in [
        "samples.png",
        "filters.png",
        "training_curve.png",
        "conv1_overview.png",
        "metrics.json",
        "confusion.png",
        "mistakes.png",
        "confusion.csv",
        "conv2_through_training.png",
        "rotation.png",
        "invariance.csv",
        "evolution.csv",
    ]:
        assert name in html, name
    result = open_page(report, tmp_path, "--dump-dom")
    dom = result.stdout
    assert "<svg" in dom, "the report's workflow graph was not drawn"
    for name in (
        "trace_evolution",
        "occlude",
        "measure_invariance",
        "tally_mistakes",
        "conv2_through_training.png",
        "features through training",
        "occlusion",
        "invariance",
        "mistakes",
    ):
        assert name in dom, name
    assert screenshot_is_drawn(report, tmp_path)
