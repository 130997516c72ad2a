"""
Structure figures of an smtpeter checkout: how many modules and lines, the
largest module, how many are over 400 lines, and how many imports reach into
another package's private (underscore) modules (the top-level modules count
as one package). For the before/after tables of structure work:

    python3 bench/structure.py .          # this checkout
    python3 bench/structure.py . -v       # and list the private imports
"""

import ast
import sys
from pathlib import Path

root = Path(sys.argv[1]) / "smtpeter"
mods = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
sizes = {p: len(p.read_text().splitlines()) for p in mods}


def pkg(path):
    """The subpackage a module belongs to ('' for the top level)."""
    rel = path.relative_to(root).parts
    return rel[0] if len(rel) > 1 else ""


private = []
for p in mods:
    mine = pkg(p)
    tree = ast.parse(p.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(p.relative_to(root.parent).with_suffix("").parts)[: -node.level]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            if not name.startswith("smtpeter"):
                continue
            parts = name.split(".")[1:]
            targets = [parts] if parts else []
            if node.module is None:  # from . import x
                targets = [parts + [a.name] for a in node.names]
            for t in targets:
                if not t:
                    continue
                other = t[0] if len(t) > 1 or (root / t[0]).is_dir() else ""
                if other != mine and any(s.startswith("_") and s != "__init__" for s in t):
                    private.append(f"{p.relative_to(root.parent)}: {name}")
big = max(sizes, key=sizes.get)
over = sum(1 for v in sizes.values() if v > 400)
print(
    f"modules {len(mods)}; lines {sum(sizes.values())};"
    f" largest {big.relative_to(root.parent)} {sizes[big]}; over 400 lines {over};"
    f" private cross-package imports {len(private)}"
)
if "-v" in sys.argv:
    print("\n".join(private))
