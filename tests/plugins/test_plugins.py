"""smtpeter.plugins: the drop-in package where features are found, built in and third party."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from twisted.plugin import getPlugins
from zope.interface.verify import verifyObject

import smtpeter.plugins
from smtpeter.features import IFeature, discover
from smtpeter.plugins import smtpeter_features

BUILT_IN = {
    "dkim",
    "hostedimages",
    "inlinecss",
    "preventscam",
    "trackbounces",
    "trackclicks",
    "trackopens",
    "unsubscribe",
}
EXAMPLE = Path(__file__).parent.parent / "plugins_example"


def test_every_built_in_feature_provides_the_interface_under_its_own_name():
    found = {
        name: value for name, value in vars(smtpeter_features).items() if IFeature.providedBy(value)
    }
    assert set(found) == BUILT_IN
    for name, feature in found.items():
        assert feature.name == name and verifyObject(IFeature, feature)
        assert isinstance(feature.order, int)
        assert feature.header.lower().startswith("x-smtpeter-"), feature.header


def test_the_built_in_features_are_found_once_each():
    names = [feature.name for feature in getPlugins(IFeature, smtpeter.plugins)]
    assert len(names) == len(set(names)), names
    assert {type(f) for f in discover()} == {type(getattr(smtpeter_features, n)) for n in BUILT_IN}


def test_a_drop_in_on_the_path_is_found_beside_the_built_in_ones():
    """A distribution's smtpeter/plugins/ directory (no __init__.py) joins the package."""
    env = {**os.environ, "PYTHONPATH": str(EXAMPLE)}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from smtpeter.features import discover\n"
            "print(' '.join(sorted(f.name for f in discover())))",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    names = set(out.stdout.split())
    assert "footer" in names and names > {"trackclicks", "dkim"}, out.stdout
