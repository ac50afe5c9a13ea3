"""Function names for the agent's allocation sites.

tracemalloc records only (file, line). The recorder reads the source file once and finds the
innermost function or class that contains the line, so a site reads `app/handlers.py:42
(login)`. The path comes from the target: the file is only read (never run), size-capped,
and any failure simply leaves the function unknown.
"""

from __future__ import annotations

import ast
import bisect
from functools import lru_cache
from typing import Any

MAX_SOURCE_BYTES = 4 << 20


@lru_cache(maxsize=256)
def _definitions(path: str) -> tuple[tuple[int, int, str], ...]:
    """(first line, last line, qualified name) of every def and class in the file."""
    try:
        with open(path, "rb") as handle:
            source = handle.read(MAX_SOURCE_BYTES + 1)
        if len(source) > MAX_SOURCE_BYTES:
            return ()
        tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return ()
    found: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                found.append((first, child.end_lineno or child.lineno, name))
                visit(child, name + ("." if isinstance(child, ast.ClassDef) else ".<locals>."))
            else:
                visit(child, prefix)

    try:
        visit(tree, "")
    except RecursionError:
        return ()
    return tuple(sorted(found))


def enclosing_function(path: str, line: int) -> str | None:
    """The innermost def or class of `path` that contains `line`; '<module>' outside any."""
    definitions = _definitions(path)
    if not definitions and not path.endswith(".py"):
        return None
    best = None
    # Definitions are sorted by first line: only those starting at or before `line` qualify,
    # and the innermost one is the last of them that still contains it.
    for first, last, name in definitions[:bisect.bisect_right(definitions, (line, 1 << 30, ""))]:
        if first <= line <= last:
            best = name
    return best or ("<module>" if definitions else None)


def with_functions(detail: dict[str, Any]) -> dict[str, Any]:
    """Fill in the function of an allocation site (and of each frame of its stack)."""
    if "file" in detail and "function" not in detail:
        detail["function"] = enclosing_function(detail["file"], detail["line"])
        for frame in detail.get("stack") or []:
            if frame[2] is None:
                frame[2] = enclosing_function(frame[0], frame[1])
    return detail
