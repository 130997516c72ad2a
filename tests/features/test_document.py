"""
How a part's text becomes a template: our placeholders become slots, and
text that only looks like one stays text.
"""

from __future__ import annotations

from smtpeter.features._document import Slot, Template, TextDocument


def test_placeholders_become_slots_in_order():
    document = TextDocument("")
    first = document.slot("trackclicks", "https://a.example/")
    second = document.slot("trackopens", "")
    text = f"see {first} and{second}\r\nend {first}"
    assert document._template(text, False) == Template(
        (
            "see ",
            Slot("trackclicks", "https://a.example/"),
            " and",
            Slot("trackopens", ""),
            "\r\nend ",
            Slot("trackclicks", "https://a.example/"),
        )
    )


def test_text_that_looks_like_a_placeholder_stays_text():
    document = TextDocument("")
    ours = document.slot("trackclicks", "https://a.example/")
    start = ours[: ours.index("SLOT") + 4]
    lookalikes = [
        "SMTPETER000000000000SLOT0END",  # another document's
        f"{start}0",  # no end
        f"{start}7END",  # a slot that was never made
        f"{start}x0END",  # not a number
        f"{start}\u0661END",  # a digit, but not ASCII
    ]
    text = "a " + " b ".join(lookalikes) + f" {ours} z"
    template = document._template(text, True)
    assert template == Template(
        ("a " + " b ".join(lookalikes) + " ", Slot("trackclicks", "https://a.example/"), " z"),
        True,
    )
