"""
The package's shape, as issue 34 asks: other packages use a package through
its face (its C{__init__}, which names what it offers in C{__all__}), and
at most L{MOST_PRIVATE} imports reach into another package's private
modules, each with its reason. The figures are bench/structure.py's, which
these tests share.
"""

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

import smtpeter

CHECKOUT = Path(__file__).resolve().parent.parent
PACKAGE = Path(smtpeter.__file__).resolve().parent


def _structure():
    spec = importlib.util.spec_from_file_location("_structure", CHECKOUT / "bench" / "structure.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


structure = _structure()


def test_privateImportsAcrossPackagesAtMost15():
    found = structure.privateImports(PACKAGE)
    assert len(found) <= structure.MOST_PRIVATE == 15, "\n".join(
        f"{path}:{line}: {name}" for path, line, name, _ in found
    )


def test_everyPrivateImportAcrossPackagesSaysWhy():
    unexplained = [
        f"{path}:{line}: {name}"
        for path, line, name, reason in structure.privateImports(PACKAGE)
        if not reason
    ]
    assert unexplained == [], f"add a '{structure.REASON} why' comment above each"


def _faceImports():
    """Every C{from smtpeter.X import name} of a package's face, from another package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        dotted = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        mine = dotted[1] if len(dotted) > 2 else ""
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or node.module is None:
                continue
            if node.level:
                name = ".".join(dotted[: -node.level] + [node.module])
            else:
                name = node.module
            parts = name.split(".")
            if parts[0] != "smtpeter" or len(parts) < 2 or parts[1] == mine:
                continue
            if any(p.startswith("_") for p in parts) or not (PACKAGE / parts[1]).is_dir():
                continue
            if not (PACKAGE.joinpath(*parts[1:]) / "__init__.py").exists():
                continue  # an interfaces module, say: public, but not a face
            for alias in node.names:
                yield f"{path.relative_to(PACKAGE.parent)}:{node.lineno}", name, alias.name


def test_facesExportWhatOtherPackagesImport():
    """What another package takes from a face is named in that face's C{__all__}."""
    missing = []
    seen = 0
    for where, face, name in _faceImports():
        seen += 1
        if name not in importlib.import_module(face).__all__:
            missing.append(f"{where}: {name} not in {face}.__all__")
    assert seen > 100
    assert missing == []


def test_facesHaveWhatTheyExport():
    """Each package's face has an C{__all__}, and has every name in it."""
    faces = sorted(
        ".".join(p.relative_to(PACKAGE.parent).parent.parts)
        for p in PACKAGE.rglob("__init__.py")
        if "__pycache__" not in p.parts
    )
    assert "smtpeter.queue.manager" in faces
    absent = [
        f"{face}.{name}"
        for face in faces
        if face != "smtpeter"
        for name in importlib.import_module(face).__all__
        if not hasattr(importlib.import_module(face), name)
    ]
    assert absent == []


def _tree(tmp_path, files):
    root = tmp_path / "smtpeter"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def tree(tmp_path):
    return _tree(
        tmp_path,
        {
            "__init__.py": '__version__ = "1"\n',
            "store/__init__.py": "",
            "store/_events.py": "TYPES = ()\n",
            "web/__init__.py": "",
            "web/_own.py": "from ._api import x\n",
            "web/_api.py": (
                "from .. import __version__\n"
                "from ..store import TYPES\n"
                "from ..store._events import TYPES\n"
                "# private: the reason\n"
                "from smtpeter.store._events import TYPES\n"
                "from ..store._events import (  # private: on its first line\n"
                "    TYPES,\n"
                ")\n"
                "# a comment that is no reason\n"
                "from ..store._events import TYPES\n"
                "def later():\n"
                "    from ..store._events import TYPES\n"
            ),
        },
    )


def test_counterFindsPrivateImportsAcrossPackages(tree):
    """
    Imports of another package's private module count, wherever they are;
    a face, a dunder such as C{__version__}, and a package's own private
    modules do not.
    """
    found = [(str(path), line) for path, line, _, _ in structure.privateImports(tree)]
    assert found == [(str(Path("smtpeter/web/_api.py")), n) for n in (3, 5, 6, 10, 12)]


def test_counterReadsReasons(tree):
    """A reason is a C{# private:} comment above the import or on its first line."""
    reasons = [reason for *_, reason in structure.privateImports(tree)]
    assert reasons == [None, "the reason", "on its first line", None, None]


def test_packagesFormLayers():
    """No package imports, when it is imported, a package that imports it back."""
    assert structure.packageCycles(PACKAGE) == []


def test_counterFindsCycles(tmp_path):
    """
    A cycle counts through a package's face and a subpackage's; a package
    importing one of its own subpackages, or one only inside a function,
    makes none.
    """
    root = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "tap.py": "from .queue.manager import x\n",
            "queue/__init__.py": "from ._spool import x\n",
            "queue/_spool.py": "x = 1\n",
            "queue/manager/__init__.py": "from ._manager import x\n",
            "queue/manager/_manager.py": "from ...smtp import y\nfrom .. import x\n",
            "smtp/__init__.py": "from ._inbound import y\n",
            "smtp/_inbound.py": (
                "try:\n    from smtpeter.queue.manager._manager import x\nexcept ImportError:\n"
                "    pass\ndef later():\n    from ..tap import x\ny = 1\n"
            ),
            "store/__init__.py": "def later():\n    from .. import events\n",
            "events/__init__.py": "from .. import store\n",
        },
    )
    assert structure.packageCycles(root) == [["smtpeter.queue.manager", "smtpeter.smtp"]]
