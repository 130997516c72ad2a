"""The runtime imports nothing else of smtpeter, so that every layer may use it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import smtpeter.runtime

RUNTIME = Path(smtpeter.runtime.__file__).parent


def _imports(source: str) -> list[tuple[int, str]]:
    """Each module a runtime module's C{source} imports, absolute (relative ones resolved), by line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.append((node.lineno, node.module or ""))
            else:
                package = ["smtpeter", "runtime"][: 3 - node.level]
                found.append(
                    (node.lineno, ".".join(package + ([node.module] if node.module else [])))
                )
    return found


def test_runtime_imports_only_itself():
    """No module of smtpeter.runtime imports a module of smtpeter outside it."""
    modules = sorted(RUNTIME.glob("*.py"))
    assert len(modules) > 5  # the scan saw the package
    outside = [
        f"{path.name}:{line}: {name}"
        for path in modules
        for line, name in _imports(path.read_text())
        if (name == "smtpeter" or name.startswith("smtpeter."))
        and not (name == "smtpeter.runtime" or name.startswith("smtpeter.runtime."))
    ]
    assert outside == []


def test_relative_imports_resolved():
    """The scan would see a climb out of the package (the test above can fail)."""
    source = "from ..store import connect\nfrom . import _gc\nimport smtpeter.queue\n"
    names = [name for _, name in _imports(source)]
    assert names == ["smtpeter.store", "smtpeter.runtime", "smtpeter.queue"]


def test_importing_runtime_loads_nothing_else():
    """Importing the runtime's face loads no other package of smtpeter (and installs no reactor)."""
    code = (
        "import sys, smtpeter.runtime\n"
        "print(sorted(m for m in sys.modules if m.startswith('smtpeter.')"
        " and not m.startswith('smtpeter.runtime')))\n"
        "print('twisted.internet.reactor' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "False"]
