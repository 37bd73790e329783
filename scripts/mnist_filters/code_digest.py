"""The code a rule runs, as one digest, so that editing the library reruns what it affects.

Snakemake tracks a rule's `script:` file, not the modules it imports, and here the thin
rule scripts hold no logic: everything lives in this package. A rule carries the digest
of its script and of every module of this package the script imports, directly or
through other modules, imports inside functions included (and the packages they sit in,
whose `__init__` runs on import). Each file counts as its syntax tree without
docstrings, so comments, blank lines, layout and docstrings change nothing, while any
edit that can change behaviour changes the digest.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE = "mnist_filters"


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
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        node.body = body[1:] or [ast.Pass()]


def _module_file(root: Path, module: str) -> Path | None:
    """The file that defines `module` (a dotted name) under `root`, if it is ours."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> tuple[str, tuple[str, ...]]:
    """(the file's syntax tree as text, without docstrings; the dotted names it imports)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
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
    return ast.dump(tree), tuple(imported)


def _resolve(name: str, importer: str, importer_is_package: bool) -> str:
    if not name.startswith("."):
        return name
    level = len(name) - len(name.lstrip("."))
    package = importer.split(".") if importer_is_package else importer.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join(base + ([name.lstrip(".")] if name.lstrip(".") else []))


def closure(script: Path, root: Path) -> list[Path]:
    """`script` and every file of this package under `root` (absolute) that it imports."""
    seen: dict[Path, None] = {}
    pending = [(script.resolve(), None)]
    while pending:
        path, name = pending.pop()
        if path in seen:
            continue
        seen[path] = None
        is_package = path.name == "__init__.py"
        for imported in _parse(path)[1]:
            if name is not None:
                imported = _resolve(imported, name, is_package)
            if imported.split(".")[0] != PACKAGE:
                continue
            parts = imported.split(".")
            # importing a.b.c runs a/__init__, a/b/__init__ and a/b/c
            for depth in range(1, len(parts) + 1):
                module = ".".join(parts[:depth])
                found = _module_file(root, module)
                if found is not None and found not in seen:
                    pending.append((found, module))
    return sorted(seen)


def code_digest(script: str | Path, root: str | Path) -> str:
    """sha256 over the syntax trees of `script` and the package modules it runs."""
    root = Path(root).resolve()
    digest = hashlib.sha256()
    for path in closure(Path(script), root):
        where = path.relative_to(root) if path.is_relative_to(root) else Path(path.name)
        digest.update(f"{where.as_posix()}\0{_parse(path)[0]}\0".encode())
    return digest.hexdigest()
