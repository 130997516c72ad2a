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


def pip(*args: str, cwd: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", *args],
        check=True,
        cwd=cwd,
        capture_output=True,
    )


def test_regular_install_registers_the_plugin(tmp_path):
    target = tmp_path / "site"
    pip("--target", str(target), str(ROOT), cwd=tmp_path)
    assert (target / "twisted" / "plugins" / "smtpeter_plugin.py").exists()
    assert not (target / "twisted" / "plugins" / "__init__.py").exists()
    # -S: no .pth processing, so this checkout's own editable install is invisible.
    env = {**os.environ, "PYTHONPATH": f"{target}{os.pathsep}{DEPENDENCIES}"}
    for _ in range(2):  # the second run reads Twisted's dropin cache
        result = subprocess.run(
            [sys.executable, "-S", "-c", PROBE],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert f"smtpeter from {target}" in result.stdout
        assert "    smtpeter " in result.stdout, result.stdout[-2000:] + result.stderr


def test_editable_install_registers_the_plugin(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # pip cannot put an editable install in a --target; install it into a new venv.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            "-e",
            str(ROOT),
        ],
        check=True,
        cwd=tmp_path,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": DEPENDENCIES}
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", PROBE],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert f"smtpeter from {ROOT}" in result.stdout
    assert "    smtpeter " in result.stdout, result.stdout[-2000:] + result.stderr
