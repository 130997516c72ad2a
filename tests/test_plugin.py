"""
`twistd --help` lists smtpeter after `pip install .` and after
`pip install -e .`. Each install goes to its own place and is checked in a
Python that cannot see the other one (or this checkout), so neither can
pass on the other's behalf.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPENDENCIES = sysconfig.get_paths()["purelib"]  # twisted and friends, from this environment
PROBE = (
    "import sys; sys.argv = ['twistd', '--help']\n"
    "import smtpeter; print('smtpeter from', smtpeter.__file__)\n"
    "from twisted.scripts.twistd import run\n"
    "try:\n    run()\nexcept SystemExit:\n    pass\n"
)


def pip(*args: str, cwd: Path, python: Path | None = None) -> None:
    target = ["--python", str(python)] if python else []
    subprocess.run(
        [sys.executable, "-m", "pip", *target, "install", "-q", "--no-deps", *args],
        check=True,
        cwd=cwd,
        capture_output=True,
    )


def assertListed(command: list[str], pythonPath: str, cwd: Path, origin: Path) -> None:
    """Run twistd --help in C{command}'s Python; smtpeter must come from C{origin}."""
    result = subprocess.run(
        [*command, PROBE],
        env={**os.environ, "PYTHONPATH": pythonPath},
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    assert f"smtpeter from {origin}" in result.stdout
    assert "    smtpeter " in result.stdout, result.stdout[-2000:] + result.stderr


def test_regular_install_registers_the_plugin(tmp_path):
    target = tmp_path / "site"
    pip("--target", str(target), str(ROOT), cwd=tmp_path)
    assert (target / "twisted" / "plugins" / "smtpeter_plugin.py").exists()
    assert not (target / "twisted" / "plugins" / "__init__.py").exists()
    # -S: no .pth processing, so this checkout's own editable install is invisible.
    for _ in range(2):  # the second run reads Twisted's dropin cache
        assertListed(
            [sys.executable, "-S", "-c"], f"{target}{os.pathsep}{DEPENDENCIES}", tmp_path, target
        )


def test_editable_install_registers_the_plugin(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # pip cannot put an editable install in a --target; install it into a new venv.
    pip("-e", str(ROOT), cwd=tmp_path, python=venv / "bin" / "python")
    assertListed([str(venv / "bin" / "python"), "-c"], DEPENDENCIES, tmp_path, ROOT)


def test_every_package_is_installed_by_setup_cfg():
    """A package missing from setup.cfg works in an editable install and breaks `pip install .`."""
    import configparser

    root = Path(__file__).parents[1]
    config = configparser.ConfigParser()
    config.read(root / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    found = {
        ".".join(p.parent.relative_to(root).parts) for p in (root / "smtpeter").rglob("__init__.py")
    }
    assert found <= listed, f"add to setup.cfg [options] packages: {sorted(found - listed)}"
