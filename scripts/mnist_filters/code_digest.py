"""The code a rule runs, as one digest, so that editing the library reruns what it affects.

Snakemake tracks a rule's `script:` file, not the modules it imports, and here the thin
rule scripts hold no logic: everything lives in this package. A rule carries the digest
of its script and of every module of this package the script imports, directly or
through other modules, imports inside functions included (and the packages they sit in,
whose `__init__` runs on import). Each file counts as its syntax tree without
docstrings, so comments, blank lines, layout and docstrings change nothing, while any
edit that can change behaviour changes the digest.

What a stage's digest covers is therefore decided by the imports: its rule script, its stage
module, and every library module reachable from them. Moving a function between modules moves
which rules rerun when it is edited: put a function where only the stages that run it import
it (model loading has a module of its own, network/model_file.py, for that reason), and check with
`closure()` which files a rule's digest covers. A module that can change no output (the log
filter, the progress lines, the transfer experiment's plan) says so with a top-level
`CHANGES_NO_OUTPUT = True`: the digests leave it out, and what only it imports, so that an
edit to it reruns nothing. Files that are not Python (the gallery's page template) are not
covered; their rule carries their sha256 as a params entry of its own
(`file_content` in rules/common.smk). docs/development.md says the same for maintainers.

Parsing costs every Snakemake start (a no-op rerun included) about 0.15 s, so what a
file's bytes parse to can be kept in a cache file, keyed by the sha256 of those bytes
(and the Python version, whose syntax trees differ): an edited file misses the cache by
construction, and an unreadable or damaged cache is simply rebuilt.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
from pathlib import Path

PACKAGE = "mnist_filters"
# sha256 of (Python version, format, file bytes) -> (sha256 of the syntax tree, dotted names
# imported, whether the module says it changes no output)
_parsed: dict[str, tuple[str, tuple[str, ...], bool]] = {}
_FORMAT = "2"  # of a cache entry: a new one misses every entry of an old format
MARKER = "CHANGES_NO_OUTPUT"
_used: set[str] = set()  # the keys of the files this process read: what a cache file keeps
_cache_files: dict[Path, set[str]] = {}  # cache file read -> the keys it holds


def _statements(body: list[ast.stmt]):
    """Every statement in `body`, nested ones included (expressions are not visited)."""
    for statement in body:
        yield statement
        for field in ("body", "orelse", "finalbody"):
            yield from _statements(getattr(statement, field, None) or [])
        for handler in getattr(statement, "handlers", None) or []:
            yield from _statements(handler.body)
        for case in getattr(statement, "cases", None) or []:
            yield from _statements(case.body)


def _drop_docstring(node) -> None:
    body = node.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        node.body = body[1:] or [ast.Pass()]


def _python_files(root: Path) -> set[str]:
    """The .py files under `root`, relative and with "/": one listing per closure, where a
    stat per import cost a no-op rerun about 0.1 s (every import of 31 rule scripts)."""
    files = set()
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if name != "__pycache__"]
        where = Path(folder).relative_to(root).as_posix()
        prefix = "" if where == "." else f"{where}/"
        files.update(prefix + name for name in names if name.endswith(".py"))
    return files


def _module_file(root: Path, files: set[str], module: str) -> Path | None:
    """The file that defines `module` (a dotted name) under `root`, if it is ours; `files`:
    `_python_files(root)`."""
    base = module.replace(".", "/")
    for candidate in (f"{base}.py", f"{base}/__init__.py"):
        if candidate in files:
            return root / candidate
    return None


def _parse(path: Path) -> tuple[str, tuple[str, ...], bool]:
    """(sha256 of the file's syntax tree without docstrings; the dotted names it imports;
    whether it is marked as changing no output)."""
    source = path.read_bytes()
    key = hashlib.sha256(f"{sys.version_info[:2]}\0{_FORMAT}\0".encode() + source).hexdigest()
    if key not in _parsed:
        _parsed[key] = _parse_source(source, str(path))
    _used.add(key)
    return _parsed[key]


def _marked(tree: ast.Module) -> bool:
    """Whether the module assigns CHANGES_NO_OUTPUT = True at its top level."""
    return any(
        isinstance(statement, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == MARKER for t in statement.targets)
        and isinstance(statement.value, ast.Constant)
        and statement.value.value is True
        for statement in tree.body
    )


def _parse_source(source: bytes, filename: str) -> tuple[str, tuple[str, ...], bool]:
    tree = ast.parse(source, filename=filename)
    imported = []
    for statement in [*_statements(tree.body)]:
        if isinstance(statement, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            _drop_docstring(statement)
        elif isinstance(statement, ast.Import):
            imported += [alias.name for alias in statement.names]
        elif isinstance(statement, ast.ImportFrom):
            module = "." * statement.level + (statement.module or "")
            imported.append(module)
            # `from package import name` imports the submodule `name` when there is one
            joiner = "." if statement.module else ""
            imported += [f"{module}{joiner}{alias.name}" for alias in statement.names]
    _drop_docstring(tree)
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest(), tuple(imported), _marked(tree)


def _resolve(name: str, importer: str, importer_is_package: bool) -> str:
    if not name.startswith("."):
        return name
    level = len(name) - len(name.lstrip("."))
    package = importer.split(".") if importer_is_package else importer.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join(base + ([name.lstrip(".")] if name.lstrip(".") else []))


def closure(script: Path, root: Path) -> list[Path]:
    """`script` and every file of this package under `root` (absolute) that it imports, but
    the modules marked as changing no output (and what only they import)."""
    seen: dict[Path, None] = {}
    left_out: set[Path] = set()
    files = _python_files(root)
    looked_up: set[str] = set()  # module names: each is found, and queued, once
    pending = [(script.resolve(), None)]
    while pending:
        path, name = pending.pop()
        if path in seen or path in left_out:
            continue
        _tree, imports, marked = _parse(path)
        if marked and name is not None:
            left_out.add(path)
            continue
        seen[path] = None
        is_package = path.name == "__init__.py"
        for imported in imports:
            if name is not None:
                imported = _resolve(imported, name, is_package)
            if imported.split(".")[0] != PACKAGE:
                continue
            parts = imported.split(".")
            # importing a.b.c runs a/__init__, a/b/__init__ and a/b/c
            for depth in range(1, len(parts) + 1):
                module = ".".join(parts[:depth])
                if module in looked_up:
                    continue
                looked_up.add(module)
                found = _module_file(root, files, module)
                if found is not None:
                    pending.append((found, module))
    return sorted(seen)


def _read_cache(cache: Path) -> None:
    if cache in _cache_files:
        return
    _cache_files[cache] = set()
    try:
        entries = {
            key: (tree, tuple(imports), bool(marked))
            for key, (tree, imports, marked) in json.loads(cache.read_text()).items()
            if isinstance(tree, str) and all(isinstance(i, str) for i in imports)
        }
    except (OSError, ValueError, TypeError, AttributeError):
        return  # no cache yet, or a damaged one: parse, and write a new one
    _parsed.update(entries)
    _cache_files[cache] = set(entries)


def _write_cache(cache: Path, keys: set[str]) -> None:
    """The entries of `keys`, replacing the cache atomically (so entries of old file versions
    go)."""
    temporary = cache.with_name(f".{cache.name}.{os.getpid()}")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps({key: _parsed[key] for key in sorted(keys)}))
        os.replace(temporary, cache)
    except OSError:
        temporary.unlink(missing_ok=True)  # a read-only folder: the cache only saves time


def code_digest(script: str | Path, root: str | Path, cache: str | Path | None = None) -> str:
    """sha256 over the syntax trees of `script` and the package modules it runs.

    `cache`: a JSON file keeping what each file's bytes parse to, across processes.
    """
    if cache is not None:
        _read_cache(Path(cache))
    root = Path(root).resolve()
    digest = hashlib.sha256()
    for path in closure(Path(script), root):
        where = path.relative_to(root) if path.is_relative_to(root) else Path(path.name)
        digest.update(f"{where.as_posix()}\0{_parse(path)[0]}\0".encode())
    if cache is not None and not _used <= _cache_files[Path(cache)]:
        _write_cache(Path(cache), _used)
        _cache_files[Path(cache)] = set(_used)
    return digest.hexdigest()
