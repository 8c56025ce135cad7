"""Module and function sizes of the package: ``python tools/code_sizes.py [--top N] [--rev R]``.

Lines of a module count everything; lines of logic of a function leave out its docstring,
blank lines and comments.  Prints modules over the ~400-line guide and the longest functions;
``--rev`` measures the package as committed at a git revision instead (e.g. ``--rev af36888``
for before the house).
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "bootsep_lib"


def _logic_lines(node: ast.AST, source: list[str]) -> int:
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None),
                                                             ast.Constant):
        body = body[1:]
    if not body:
        return 0
    lines = source[body[0].lineno - 1:node.end_lineno]
    return sum(1 for line in lines if line.strip() and not line.strip().startswith("#"))


def sizes(root: Path = ROOT) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """``(lines, module)`` for every module and ``(logic lines, function)`` for every function."""
    modules, functions = [], []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text()
        name = str(path.relative_to(root.parent))
        modules.append((len(text.splitlines()), name))
        source = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                functions.append((_logic_lines(node, source), f"{name}::{node.name}"))
    return sorted(modules, reverse=True), sorted(functions, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--rev", help="a git revision to measure instead of the work tree")
    args = parser.parse_args()
    top = args.top
    if args.rev:
        blob = subprocess.run(["git", "archive", args.rev, "bootsep_lib"], cwd=ROOT.parent,
                              capture_output=True, check=True).stdout
        with tempfile.TemporaryDirectory() as tmp:
            tarfile.open(fileobj=BytesIO(blob)).extractall(tmp, filter="data")
            modules, functions = sizes(Path(tmp) / "bootsep_lib")
    else:
        modules, functions = sizes()
    total = sum(n for n, _ in modules)
    over = [(n, m) for n, m in modules if n > 400]
    print(f"{len(modules)} modules, {total} lines; {len(over)} over 400 lines "
          f"({sum(n for n, _ in over)} lines)")
    for n, m in modules[:top]:
        print(f"  {n:5d}  {m}")
    print(f"{len(functions)} functions; {sum(n > 60 for n, _ in functions)} over 60 lines of logic")
    for n, f in functions[:top]:
        print(f"  {n:5d}  {f}")


if __name__ == "__main__":
    main()
