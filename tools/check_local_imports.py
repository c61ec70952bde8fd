"""Lint: a project import inside a function needs a comment saying why (ADR 0029).

Imports belong at the top of a module, where the layers contract (.importlinter) and a reader see
them. An import inside a function is allowed when it has a reason — a heavy optional library
loaded only when used, a cycle inside one app, a process-start ordering — and that reason is
written on the import's line or on the comment line right above it. Tests and migrations are
exempt. Exit status 1 lists every import without one.

    python tools/check_local_imports.py [ROOT]
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGES = ("trading_site", "marketdata", "orders", "risk", "tax", "strategies", "workflow", "console", "ops")
SKIP_PARTS = {"tests", "migrations"}


def _local_imports(tree: ast.AST):
    """(node) for each import statement nested in a function body."""
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, in_function = stack.pop()
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if inside and isinstance(child, ast.Import | ast.ImportFrom):
                yield child
            stack.append((child, inside))


def _project_module(node: ast.Import | ast.ImportFrom) -> str | None:
    if isinstance(node, ast.ImportFrom):
        if node.level:
            return node.module or "."
        names = [node.module or ""]
    else:
        names = [alias.name for alias in node.names]
    for name in names:
        if name.split(".")[0] in PACKAGES:
            return name
    return None


def _has_reason(lines: list[str], node: ast.stmt) -> bool:
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    for line in lines[first : last + 1]:
        if "#" in line and line.split("#", 1)[1].strip(" :"):
            return True
    above = lines[first - 1].strip() if first > 0 else ""
    return above.startswith("#") and len(above.lstrip("# ")) > 0


def violations(root: Path) -> list[str]:
    found: list[str] = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if SKIP_PARTS & set(path.relative_to(root).parts):
                continue
            text = path.read_text()
            lines = text.splitlines()
            for node in _local_imports(ast.parse(text, filename=str(path))):
                module = _project_module(node)
                if module and not _has_reason(lines, node):
                    found.append(f"{path.relative_to(root)}:{node.lineno}: import of {module} inside a function "
                                 "without a comment saying why")
    return found


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent
    found = violations(root)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} function-level project import(s) without a reason (move them to the top, or say why)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
