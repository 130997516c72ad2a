"""
Our bounce classes and reasons against a widely used open-source classifier:
sisimai's corpus of real bounces from many MTAs (tests/fixtures/bounces/
sisimai, BSD 2-Clause), with the answers sisimai's own tests expect for each
message, compared through the mapping that docs/bounces.md states (read from
the document itself, so that the document stays the truth).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpeter.events._bouncereasons import REASONS
from smtpeter.events._bounces import readBounce

ROOT = Path(__file__).parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "bounces" / "sisimai"
DOC = ROOT / "docs" / "bounces.md"

#: The issue's target for classes; reasons are finer, and the floor below
#: is what they reach today, so that they do not slide back.
CLASS_AGREEMENT = 0.95
REASON_AGREEMENT = 0.75

#: sisimai's reasons that are a class of their own with us.
_SPECIAL_CLASSES = {"feedback": "complaint", "vacation": "auto-reply", "delivered": "success"}


def referenceReasons() -> dict[str, frozenset[str] | None]:
    """docs/bounces.md's table: sisimai's reason -> ours (C{None}: any)."""
    header = "| sisimai reason | smtpeter reason |"
    text = DOC.read_text()
    assert header in text, f"docs/bounces.md has no {header!r} table"
    mapping: dict[str, frozenset[str] | None] = {}
    for line in text.split(header, 1)[1].splitlines()[2:]:
        if not line.startswith("|"):
            break
        theirs, ours = (cell.strip() for cell in line.strip().strip("|").split("|"))
        names = frozenset(re.findall(r"`([^`]+)`", ours))
        for reason in re.findall(r"`([^`]+)`", theirs):
            mapping[reason] = names if ours != "any" else None
    return mapping


def expected() -> dict[str, list[list]]:
    return json.loads((CORPUS / "expected.json").read_text())


@cache
def read(name: str):
    # Some of the corpus is CRLF already; an MTA hands us CRLF.
    return readBounce(re.sub(rb"\r?\n", b"\r\n", (CORPUS / name).read_bytes()))


def agreement(withReason: bool) -> tuple[int, list[str]]:
    """How many messages agree, and a line for each that does not."""
    mapping = referenceReasons()
    agreed, differences = 0, []
    answers = expected()
    for name, recipients in sorted(answers.items()):
        report = read(name)
        for _status, reason, hard in recipients:
            ours = mapping[reason]
            if ours is None:
                same = report.kind in ("soft", "unknown")
            else:
                kind = _SPECIAL_CLASSES.get(reason, "hard" if hard else "soft")
                same = report.kind == kind and (not withReason or report.reason in ours)
            if same:
                agreed += 1
                break
        else:
            status, reason, hard = recipients[0]
            differences.append(
                f"{name}: ours {report.kind}/{report.reason} ({report.status}), sisimai "
                f"{reason}{' hard' if hard else ''} ({status}): {(report.diagnostic or '')[:100]}"
            )
    return agreed, differences


def test_the_corpus_and_its_answers_match():
    answers = expected()
    files = {path.name for path in CORPUS.glob("*.eml")}
    assert files == set(answers)
    assert len(files) > 500
    mapping = referenceReasons()
    missing = {reason for recipients in answers.values() for _, reason, _ in recipients}
    assert missing - set(mapping) == set(), "docs/bounces.md maps no smtpeter reason to these"


@pytest.mark.parametrize(
    "withReason, target",
    [(False, CLASS_AGREEMENT), (True, REASON_AGREEMENT)],
    ids=["class", "reason"],
)
def test_agreement_with_sisimai(withReason, target):
    agreed, differences = agreement(withReason)
    total = agreed + len(differences)
    what = "class and reason" if withReason else "class"
    print(f"\nagreement ({what}): {agreed}/{total} = {agreed / total:.1%}")
    print("\n".join(differences))
    assert agreed / total >= target, f"{agreed}/{total} = {agreed / total:.1%}\n" + "\n".join(
        differences
    )


KINDS = {"hard", "soft", "auto-reply", "complaint", "success", "unknown"}


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_real_bounce_damaged_is_read_without_an_error(data):
    """Cut, spliced or with bytes changed, a real bounce gets a class and a reason."""
    names = sorted(expected())
    content = re.sub(rb"\r?\n", b"\r\n", (CORPUS / data.draw(st.sampled_from(names))).read_bytes())
    start = data.draw(st.integers(0, len(content)))
    end = data.draw(st.integers(start, len(content)))
    content = content[:start] + data.draw(st.binary(max_size=64)) + content[end:]
    report = readBounce(content)
    assert report.kind in KINDS and report.reason in REASONS
