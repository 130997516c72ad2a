"""
Golden output of inlining and rewriting for every message in the corpus.
After a deliberate change, regenerate with SMTPETER_REGOLD=1 and read the
diff before committing it.
"""

import os

import pytest

from ..conftest import corpus, fixture
from .conftest import GOLDEN, makeChain, message

SETS = {
    "inline": ("inlinecss",),
    "tracked": ("hostedimages", "inlinecss", "preventscam", "trackclicks", "trackopens"),
}


@pytest.mark.parametrize("features", sorted(SETS))
@pytest.mark.parametrize("name", corpus())
def test_golden(tmp_path, name, features):
    chain = makeChain(tmp_path)
    content = fixture(name)
    prepared = chain.prepare(message(content, SETS[features]), content)
    output = chain.render(prepared, 0).content
    golden = GOLDEN / f"{name}.{features}.eml"
    if os.environ.get("SMTPETER_REGOLD"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_bytes(output)
    assert output == golden.read_bytes()
