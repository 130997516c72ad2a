"""What every command's output shares: times as the operator reads them, and lists."""

from __future__ import annotations

import json
import time


def when(stamp: float | None) -> str:
    """A time in the local zone, to the second; C{never} for none."""
    return "never" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def printList(items: list[dict], asJSON: bool, empty: str, show) -> None:
    """C{items} as a JSON array, or a line each (C{show}), or C{empty} for none."""
    if asJSON:
        print(json.dumps(items, indent=2))
    elif not items:
        print(empty)
    else:
        for item in items:
            print(show(item))
