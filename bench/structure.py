"""
Structure figures of an smtpeter checkout: how many modules and lines, the
largest module, how many are over 400 lines, and how many imports reach into
another package's private (underscore) modules (the top-level modules count
as one package). For the before/after tables of structure work:

    python3 bench/structure.py [CHECKOUT]     # this checkout by default
    python3 bench/structure.py . -v          # and list the private imports

Each private import across packages that remains says why, in a comment
that starts with C{# private:} on the line above it (or at the end of its
first line); the listing shows the reason, or "NO REASON".
tests/test_structure.py holds the package to these rules.
"""

import ast
import sys
from pathlib import Path

#: The most private imports across packages the package may have (issue 34).
MOST_PRIVATE = 15
#: What starts the comment that gives a private import's reason.
REASON = "# private:"


def pkg(root, path):
    """The subpackage a module belongs to ('' for the top level)."""
    rel = path.relative_to(root).parts
    return rel[0] if len(rel) > 1 else ""


def isPrivate(name):
    """An underscore name, but not a dunder such as C{__version__} or C{__init__}."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def reasonFor(lines, node):
    """The reason comment of the import C{node}, or None."""
    first = lines[node.lineno - 1]
    if REASON in first:
        return first[first.index(REASON) + len(REASON) :].strip() or None
    above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
    if above.startswith(REASON):
        return above[len(REASON) :].strip() or None
    return None


def privateImports(root):
    """
    Every import, in the package at C{root}, from a private module of
    another package: a list of C{(path, line, imported module, reason)},
    C{reason} None where no comment gives one.
    """
    root = Path(root)
    found = []
    for p in sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts):
        mine = pkg(root, p)
        text = p.read_text()
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = list(p.relative_to(root.parent).with_suffix("").parts)[: -node.level]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            if name.split(".")[0] != root.name:
                continue
            parts = name.split(".")[1:]
            targets = [parts] if parts else []
            if node.module is None:  # from . import x
                targets = [parts + [a.name] for a in node.names]
            for t in targets:
                if not t:
                    continue
                other = t[0] if len(t) > 1 or (root / t[0]).is_dir() else ""
                if other != mine and any(isPrivate(s) for s in t):
                    found.append(
                        (p.relative_to(root.parent), node.lineno, name, reasonFor(lines, node))
                    )
    return found


def _moduleLevel(statements):
    """The statements run when a module is imported (not those of functions or classes)."""
    for node in statements:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        yield node
        for field in ("body", "orelse", "finalbody", "handlers"):
            yield from _moduleLevel(getattr(node, field, []))


def packageCycles(root):
    """
    The cycles among the packages of the package at C{root} (each
    subpackage, such as C{queue.manager}, and each top-level module a node
    of its own) made by imports run at import time: a list of cycles, each
    a list of dotted names, empty when the packages form layers. Importing
    C{a.b._c} runs C{a.b}'s face, so it is an edge to C{a.b}.
    """
    root = Path(root)

    def node(parts):
        # the package a module is in, or a top-level module itself
        path = root.joinpath(*parts[1:])
        if len(parts) > 1 and path.is_dir():
            return ".".join(parts)
        return ".".join(parts[:-1]) if len(parts) > 2 else ".".join(parts)

    edges = {}
    for p in sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts):
        dotted = list(p.relative_to(root.parent).with_suffix("").parts)
        if dotted[-1] == "__init__":
            dotted = dotted[:-1]
            here = dotted
        else:
            here = dotted[:-1]
        mine = node(dotted)
        for stmt in _moduleLevel(ast.parse(p.read_text()).body):
            if isinstance(stmt, ast.ImportFrom):
                base = here[: len(here) - stmt.level + 1] if stmt.level else []
                names = [".".join(base + ([stmt.module] if stmt.module else []))]
                # from a import b, where b is a module of a
                for a in stmt.names:
                    at = root.joinpath(*names[0].split(".")[1:], a.name)
                    if at.is_dir() or at.with_suffix(".py").exists():
                        names.append(f"{names[0]}.{a.name}")
            elif isinstance(stmt, ast.Import):
                names = [a.name for a in stmt.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] != root.name or len(parts) < 2:
                    continue
                # a.b.c runs a.b's face and a.b.c: every package on the way
                for i in range(2, len(parts) + 1):
                    target = node(parts[:i])
                    if target != mine and not mine.startswith(target + "."):
                        edges.setdefault(mine, set()).add(target)
    cycles = []
    for start in sorted(edges):
        stack = [(start, [start])]
        while stack:
            at, path = stack.pop()
            for nxt in sorted(edges.get(at, ())):
                if nxt == start:
                    cycle = path
                    if min(cycle) == start and cycle not in cycles:
                        cycles.append(cycle)
                elif nxt not in path and nxt > start:
                    stack.append((nxt, path + [nxt]))
    return cycles


def main(argv):
    checkout = next((a for a in argv[1:] if a != "-v"), ".")
    root = Path(checkout) / "smtpeter"
    if not root.is_dir():
        sys.exit(f"structure: no smtpeter package in {checkout!r}: give a checkout's path")
    mods = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    sizes = {p: len(p.read_text().splitlines()) for p in mods}
    private = privateImports(root)
    cycles = packageCycles(root)
    big = max(sizes, key=sizes.get)
    over = sum(1 for v in sizes.values() if v > 400)
    print(
        f"modules {len(mods)}; lines {sum(sizes.values())};"
        f" largest {big.relative_to(root.parent)} {sizes[big]}; over 400 lines {over};"
        f" private cross-package imports {len(private)};"
        f" package cycles {len(cycles)}"
    )
    if "-v" in argv:
        for path, line, name, reason in private:
            print(f"{path}:{line}: {name}  # {reason or 'NO REASON'}")
        for cycle in cycles:
            print("cycle: " + " -> ".join(cycle + cycle[:1]))


if __name__ == "__main__":
    main(sys.argv)
