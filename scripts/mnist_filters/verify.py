"""`make verify RUN=<run>`: does the run's recipe make the same bytes again?

It retrains the run in a scratch directory with the workflow's own rules, redoes its
activation dump and ranking there, and compares with the cached results:

  weights      every tensor of model.keras, bitwise
  activations  every dataset of activations.h5, bitwise (its attributes record what made
               it, the model's and the test images' sha256 among them, so they are not
               compared)
  rankings     rankings.csv, line by line

For each it prints `identical` and a sha256 of the content, or where it first differs
(the tensor or dataset and its first differing index, or the line and column). It exits
1 on any difference and leaves the scratch directory for inspection; the cached results
are only read. The thread counts of the original jobs are reused (metrics.json and the
HDF5 file record them), because they change the last bits of the sums.

    python -m mnist_filters.verify [SET/]RUN [--directory DIR] [--keep] [-- SNAKEMAKE ARGS]

RUN is a folder of results/<data set>/; the data set may be left out when only one has
a run of that name.

The Snakemake arguments are those the run was made with (`--configfile`, `--config`,
`--profile profiles/slurm` to retrain on the cluster, from the cluster environment's
Python, as `make verify PROFILE=slurm` does, ...).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from mnist_filters.log_filter import startup_noise_left_out

WORKFLOW = Path(__file__).resolve().parents[2]
# What is compared, by file of results/<data set>/<run>/.
COMPARED = {"weights": "model.keras", "activations": "activations.h5", "rankings": "rankings.csv"}
READ_ROWS = 1000


@dataclass
class Outcome:
    what: str
    identical: bool
    detail: str  # the content's sha256 when identical, else where it first differs

    def line(self) -> str:
        return f"{self.what:<12} {'identical' if self.identical else 'DIFFERENT':<10} {self.detail}"


def first_difference(a: np.ndarray, b: np.ndarray) -> tuple[int, ...] | None:
    """The index of the first element whose bytes differ (NaNs compare by their bits), or None."""
    if a.dtype.kind == "f":
        a, b = a.view(f"u{a.dtype.itemsize}"), b.view(f"u{b.dtype.itemsize}")
    where = np.argwhere(a != b)
    return tuple(int(i) for i in where[0]) if len(where) else None


def _compare_arrays(what: str, named_a: dict, named_b: dict, read) -> Outcome:
    """Compare two {name: array-like} maps in name order; `read(x, start, stop)` reads rows."""
    if list(named_a) != list(named_b):
        return Outcome(
            what,
            False,
            f"different contents: {sorted(named_a)} (cached) vs {sorted(named_b)} (retrained)",
        )
    digest = hashlib.sha256()
    for name in named_a:
        a, b = named_a[name], named_b[name]
        if a.shape != b.shape or a.dtype != b.dtype:
            return Outcome(
                what,
                False,
                f"{name}: {a.dtype}{list(a.shape)} (cached) vs {b.dtype}{list(b.shape)} "
                "(retrained)",
            )
        rows = a.shape[0] if a.ndim else 1
        for start in range(0, max(rows, 1), READ_ROWS):
            x, y = read(a, start, start + READ_ROWS), read(b, start, start + READ_ROWS)
            index = first_difference(np.atleast_1d(x), np.atleast_1d(y))
            if index is not None:
                at = (index[0] + start, *index[1:]) if a.ndim else ()
                return Outcome(
                    what,
                    False,
                    f"{name} first differs at index {at}: "
                    f"{np.atleast_1d(x)[index]!r} (cached) vs {np.atleast_1d(y)[index]!r} "
                    "(retrained)",
                )
            digest.update(np.ascontiguousarray(x).tobytes())
    return Outcome(what, True, f"sha256 {digest.hexdigest()}  ({len(named_a)} arrays)")


def compare_weights(cached: Path, retrained: Path) -> Outcome:
    """model.keras files by their weight tensors (named by their Keras paths, e.g. conv1/kernel)."""
    import keras

    def tensors(path):
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
        return {variable.path: np.asarray(variable.numpy()) for variable in model.weights}

    from mnist_filters.network.build import weights_sha256

    ours = tensors(cached)
    outcome = _compare_arrays("weights", ours, tensors(retrained), lambda x, i, j: x[i:j])
    if (
        outcome.identical
    ):  # model.weights is get_weights()'s order, so this is metrics.json's digest
        outcome.detail = (
            f"sha256 {weights_sha256(list(ours.values()))}  ({len(ours)} tensors, as metrics.json)"
        )
    return outcome


def compare_hdf5(cached: Path, retrained: Path) -> Outcome:
    """Every dataset of two HDF5 files, in name order, read a slab of rows at a time."""

    def datasets(h5):
        found = {}
        h5.visititems(
            lambda name, item: (
                found.__setitem__(name, item) if isinstance(item, h5py.Dataset) else None
            )
        )
        return dict(sorted(found.items()))

    with h5py.File(cached, "r") as a, h5py.File(retrained, "r") as b:
        return _compare_arrays(
            "activations", datasets(a), datasets(b), lambda d, i, j: d[i:j] if d.ndim else d[()]
        )


def compare_csv(cached: Path, retrained: Path) -> Outcome:
    with open(cached, newline="") as handle:
        a = list(csv.reader(handle))
    with open(retrained, newline="") as handle:
        b = list(csv.reader(handle))
    for number, (row_a, row_b) in enumerate(zip(a, b), start=1):
        if row_a != row_b:
            header = a[0]
            column = next(
                (i for i, (x, y) in enumerate(zip(row_a, row_b)) if x != y),
                min(len(row_a), len(row_b)),
            )
            name = header[column] if column < len(header) else f"#{column + 1}"
            return Outcome(
                "rankings",
                False,
                f"line {number}, column {name}: "
                f"{row_a[column] if column < len(row_a) else '(none)'!r} (cached) vs "
                f"{row_b[column] if column < len(row_b) else '(none)'!r} (retrained)",
            )
    if len(a) != len(b):
        return Outcome("rankings", False, f"{len(a)} lines (cached) vs {len(b)} (retrained)")
    return Outcome(
        "rankings",
        True,
        f"sha256 {hashlib.sha256(Path(cached).read_bytes()).hexdigest()}  ({len(a) - 1} rows)",
    )


def compare_results(cached: Path, retrained: Path) -> list[Outcome]:
    return [
        compare_weights(cached / COMPARED["weights"], retrained / COMPARED["weights"]),
        compare_hdf5(cached / COMPARED["activations"], retrained / COMPARED["activations"]),
        compare_csv(cached / COMPARED["rankings"], retrained / COMPARED["rankings"]),
    ]


def split_config_arguments(
    arguments: list[str],
) -> tuple[list[str], list[str], list[str], list[str]]:
    """(config files, --config items, --set-threads items, the other arguments) of a Snakemake
    command line: options that take a list, which a second occurrence would replace."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--configfile", "--configfiles", nargs="+", action="extend", default=[])
    parser.add_argument("--config", "-C", nargs="+", action="extend", default=[])
    parser.add_argument("--set-threads", nargs="+", action="extend", default=[])
    known, rest = parser.parse_known_args(arguments)
    return known.configfile, known.config, known.set_threads, rest


def config_items(items: list[str], **blocks: dict) -> list[str]:
    """`--config` items with `blocks` merged into theirs: a second `data=...` would replace the
    first."""
    import yaml

    overrides = {
        key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in items)
    }
    for key, values in blocks.items():
        overrides[key] = {
            **(overrides.get(key) if isinstance(overrides.get(key), dict) else {}),
            **values,
        }
    return [f"{key}={json.dumps(value)}" for key, value in overrides.items()]


def locate(workdir: Path, name: str) -> tuple[str, str]:
    """(data set, run) of `name`, given as <set>/<run> or as <run> when one data set has it."""
    if "/" in name:
        data_set, run = name.split("/", 1)
        return data_set, run
    found = sorted(path.parent.name for path in workdir.glob(f"results/*/{name}") if path.is_dir())
    if len(found) > 1:
        raise SystemExit(
            f"verify: run {name} exists for {', '.join(found)}; name one: "
            + " or ".join(f"RUN={data_set}/{name}" for data_set in found)
        )
    return (found[0] if found else "mnist"), name


def scratch_command(
    data_set: str,
    run: str,
    workdir: Path,
    scratch: Path,
    snakefile: Path,
    arguments: list[str],
    threads: dict[str, int],
) -> list[str]:
    """Snakemake in `scratch`, with the user's arguments, data from the cached run's
    resources/<set>/, its own checkpoints (never resuming the user's), and the original jobs'
    thread counts."""
    configfiles, items, thread_items, rest = split_config_arguments(arguments)
    own = workdir / "config.yaml"
    configfiles = [str(own)] * own.is_file() + [str(Path(f).resolve()) for f in configfiles]
    data = {"set": data_set, "local_dir": str((workdir / "resources" / data_set).resolve())}
    return [
        *compared_results(data_set, run, snakefile, scratch),
        *(["--configfile", *configfiles] if configfiles else []),
        "--config",
        *config_items(items, data=data, checkpoints={"dir": "checkpoints", "keep": False}),
        "--set-threads",
        *thread_items,
        *(f"{rule}={count}" for rule, count in threads.items()),
        *rest,
    ]


def compared_results(data_set: str, run: str, snakefile: Path, directory: Path) -> list[str]:
    """Snakemake asked for the run's compared results in `directory`; the targets come first,
    since options such as --configfile take all the words that follow them."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        *(f"results/{data_set}/{run}/{name}" for name in COMPARED.values()),
        "--snakefile",
        str(snakefile),
        "--directory",
        str(directory),
    ]


def recorded_threads(cached: Path) -> dict[str, int]:
    """The thread counts the cached run's jobs ran with."""
    threads = {"train": int(json.loads((cached / "metrics.json").read_text())["threads"])}
    with h5py.File(cached / COMPARED["activations"], "r") as h5:
        if "threads" not in h5.attrs:
            raise SystemExit(
                f"{cached / COMPARED['activations']} does not record its thread count (made by an "
                "older version): rerun its dump (--forcerun dump_activations) first"
            )
        threads["dump_activations"] = int(h5.attrs["threads"])
    return threads


def up_to_date(
    data_set: str, run: str, workdir: Path, snakefile: Path, arguments: list[str]
) -> str | None:
    """None when Snakemake would make nothing for the run's compared results; else its plan."""
    configfiles, items, thread_items, rest = split_config_arguments(arguments)
    command = [
        *compared_results(data_set, run, snakefile, workdir),
        "--dry-run",
        *(["--configfile", *configfiles] if configfiles else []),
        "--config",
        *config_items(items, data={"set": data_set}),
        *(["--set-threads", *thread_items] if thread_items else []),
        *rest,
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    output = result.stdout + result.stderr
    if result.returncode == 0 and "Nothing to be done" in output:
        return None
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "run", help="the run to check: <data set>/<run>, a folder of results/ (or just <run>)"
    )
    parser.add_argument(
        "--directory", type=Path, default=Path.cwd(), help="the workflow's working directory"
    )
    parser.add_argument("--snakefile", type=Path, default=WORKFLOW / "Snakefile")
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch directory even when identical"
    )
    parser.epilog = "Arguments after -- go to Snakemake: those the run was made with."
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    args, arguments = parser.parse_args(argv[:split]), argv[split + 1 :]
    workdir = args.directory.resolve()
    data_set, run = locate(workdir, args.run)
    where = f"results/{data_set}/{run}"
    cached = workdir / where
    if (cached / "metrics.json").is_file():
        model_file = json.loads((cached / "metrics.json").read_text()).get("model_file")
        if model_file:
            print(
                f"verify: run {run} reads its model from {model_file} (model.file) and was not "
                "trained here, so there is no training to repeat: skipped"
            )
            return 0
    missing = [
        name for name in (*COMPARED.values(), "metrics.json") if not (cached / name).is_file()
    ]
    if missing:
        print(
            f"verify: {where}/ lacks {', '.join(missing)}: make the run first (make run)",
            file=sys.stderr,
        )
        return 2
    plan = up_to_date(data_set, run, workdir, args.snakefile, arguments)
    if plan is not None:
        print(
            f"verify: the cached results of run {run} are not up to date with the configuration, "
            f"so they "
            f"cannot be checked against it; make them first (make run). Snakemake's "
            f"plan:\n{plan[-3000:]}",
            file=sys.stderr,
        )
        return 2
    scratch = workdir / ".snakemake" / "mnist-filters" / "verify" / data_set / run
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    command = scratch_command(
        data_set, run, workdir, scratch, args.snakefile, arguments, recorded_threads(cached)
    )
    print(f"verify {run}: retraining in {scratch} ...", flush=True)
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True)
    (scratch / "snakemake.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        print(
            f"verify: the retraining failed (its output: {scratch / 'snakemake.log'}):\n"
            f"{(result.stdout + result.stderr)[-3000:]}",
            file=sys.stderr,
        )
        return 2
    print(f"verify {run}: remade in {time.monotonic() - started:.0f} s; compared with {where}/:")
    with startup_noise_left_out():  # Keras, to read the weights, starts TensorFlow
        outcomes = compare_results(cached, scratch / where)
    for outcome in outcomes:
        print(outcome.line())
    if all(outcome.identical for outcome in outcomes):
        if not args.keep:
            shutil.rmtree(scratch)
        print(f"verify {run}: reproduced bit for bit")
        return 0
    print(f"verify {run}: NOT reproduced; the remade results are in {scratch / where}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
