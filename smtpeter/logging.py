"""
Log observers offered to twistd: ``twistd --logger smtpeter.logging.json
smtpeter ...`` writes one JSON object per event to standard output, for log
shippers. Nothing here is installed by the gateway itself.
"""

from __future__ import annotations

import sys

from twisted.logger import jsonFileLogObserver


def json():
    """A JSON-lines observer on standard output (record separators omitted)."""
    return jsonFileLogObserver(sys.stdout, recordSeparator="")
