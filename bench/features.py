"""
Throughput of the feature chain on a realistic newsletter (tests/fixtures/
messages/newsletter.eml: about 57 KB, a style block of about 60 rules, 176
links), one core, in-process (no SMTP):

- cold: msgs/s for a 1-recipient message with an empty cache (MIME parse,
  every HTML/text transformation, one copy rendered);
- per recipient: copies/s for one 1,000-recipient message, after its
  once-per-message preparation (token filling, encoding, DKIM signing);
- the inlining step alone with premailer and css-inline, same input.

    pip install -e '.[bench]'    # premailer, for the comparison
    python bench/features.py [--recipients 1000] [--cold 40]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from smtpeter.features import Chain, Environment, TokenSigner, discover  # noqa: E402
from smtpeter.queue import Envelope, Options, QueuedMessage, Recipient  # noqa: E402
from smtpeter.store import openDatabase  # noqa: E402
from smtpeter.store._domains import DomainKeys, DomainStore  # noqa: E402
from smtpeter.store._images import ImageStore  # noqa: E402

FEATURES = ("hostedimages", "inlinecss", "trackclicks", "preventscam", "trackopens", "trackbounces")


def load() -> bytes:
    raw = (ROOT / "tests/fixtures/messages/newsletter.eml").read_bytes()
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def message(content: bytes, features, recipients: int) -> QueuedMessage:
    return QueuedMessage(
        "0190F3A1B2C3D4E5F607",
        Envelope(
            "news@example.com", tuple(Recipient(f"r{i}@example.org") for i in range(recipients))
        ),
        Options(frozenset(features), (), "bench"),
        0.0,
        content,
    )


def makeChain(tmp: Path, dkim: bool) -> Chain:
    keys = None
    if dkim:
        store = DomainStore(openDatabase(tmp / "db.sqlite"))
        if store.active("example.com") is None:
            store.add("example.com")
        keys = DomainKeys(store)
    environment = Environment(
        TokenSigner(os.urandom(32)),
        "https://click.example.net",
        "bounce.example.net",
        ImageStore(tmp / "images"),
        keys,
    )
    features = [f for f in discover() if dkim or f.name != "dkim"]
    return Chain(features, environment, cacheSize=1)


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def cold(chain: Chain, content: bytes, features, rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        chain.cache = type(chain.cache)(0)  # empty: every message is new
        start = time.perf_counter()
        prepared = chain.prepare(message(content, features, 1), content)
        chain.render(prepared, 0)
        times.append(time.perf_counter() - start)
    return rate(len(times), sum(times)), statistics.median(times) * 1000


def perRecipient(chain: Chain, content: bytes, features, recipients: int) -> float:
    prepared = chain.prepare(message(content, features, recipients), content)
    start = time.perf_counter()
    for index in range(recipients):
        chain.render(prepared, index)
    return rate(recipients, time.perf_counter() - start)


def inliners(content: bytes, rounds: int) -> dict[str, float]:
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    html = next(p for p in parsed.walk() if p.get_content_type() == "text/html").get_content()
    results = {}
    import css_inline

    inliner = css_inline.CSSInliner(
        keep_style_tags=True, remove_inlined_selectors=True, load_remote_stylesheets=False
    )
    start = time.perf_counter()
    for _ in range(rounds):
        inliner.inline(html)
    results["css-inline (used)"] = rate(rounds, time.perf_counter() - start)
    try:
        import logging

        import premailer

        logging.getLogger("cssutils").setLevel(logging.CRITICAL)
        start = time.perf_counter()
        for _ in range(max(3, rounds // 10)):
            premailer.Premailer(html, keep_style_tags=True, disable_validation=True).transform()
        results["premailer"] = rate(max(3, rounds // 10), time.perf_counter() - start)
    except ImportError:
        results["premailer"] = float("nan")
        print("(premailer not installed: pip install -e '.[bench]')", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--cold", type=int, default=40, help="messages per cold measurement")
    args = parser.parse_args()
    content = load()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs,"
        f" Python {platform.python_version()}; message {len(content)} bytes"
    )
    rows = [(name, (name,)) for name in FEATURES]
    rows.insert(4, ("trackclicks+preventscam", ("trackclicks", "preventscam")))
    rows = [r for r in rows if r[0] != "preventscam"]
    with tempfile.TemporaryDirectory() as tmp:
        tmpPath = Path(tmp)
        plain = makeChain(tmpPath, dkim=False)
        signing = makeChain(tmpPath, dkim=True)
        table = []
        for name, features in rows:
            table.append(
                (
                    name,
                    *cold(plain, content, features, args.cold),
                    perRecipient(plain, content, features, args.recipients),
                )
            )
        table.append(
            (
                "dkim only",
                *cold(signing, content, (), args.cold),
                perRecipient(signing, content, (), min(args.recipients, 300)),
            )
        )
        table.append(
            (
                "all but dkim",
                *cold(plain, content, FEATURES, args.cold),
                perRecipient(plain, content, FEATURES, args.recipients),
            )
        )
        table.append(
            (
                "all + dkim",
                *cold(signing, content, FEATURES, args.cold),
                perRecipient(signing, content, FEATURES, min(args.recipients, 300)),
            )
        )
        print(f"\n{'features':26} {'cold msgs/s':>12} {'cold p50 ms':>12} {'copies/s':>10}")
        for name, msgs, p50, copies in table:
            print(f"{name:26} {msgs:12.0f} {p50:12.1f} {copies:10.0f}")
        print("\ninlining step alone, same HTML (docs/s):")
        for name, value in inliners(content, args.cold * 5).items():
            print(f"  {name:20} {value:8.0f}")


if __name__ == "__main__":
    main()
