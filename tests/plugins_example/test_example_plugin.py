"""
A third-party feature found through twisted.plugin: this directory is put on
sys.path in a fresh interpreter, as an installed distribution would be.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

SCRIPT = r"""
import sys
from pathlib import Path
from smtpeter.features import Chain, Environment, TokenSigner, discover
from smtpeter.queue import Envelope, Options, QueuedMessage, Recipient

names = [f.name for f in discover()]
assert "footer" in names and "trackclicks" in names, names
chain = Chain(discover(), Environment(TokenSigner(b"k" * 32), "http://gw", "gw"))
content = b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n"
options = Options(frozenset(), (), None, {"footer": "true"})  # x-smtpeter-footer: true
message = QueuedMessage("0190F3A1B2C3D4E5F607", Envelope("s@x.org", (Recipient("r@x.org"),)),
                        options, 0.0, content)
copy = chain.render(chain.prepare(message, content), 0)
sys.stdout.write(copy.content.decode())
off = QueuedMessage("0190F3A1B2C3D4E5F607", Envelope("s@x.org", (Recipient("r@x.org"),)),
                    Options(frozenset(["footer"]), (), None, {"footer": "false"}), 0.0, content)
assert chain.render(chain.prepare(off, content), 0).content == content
"""


def test_third_party_feature_is_found_and_applied():
    result = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(HERE)!r})\n{SCRIPT}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("X-Footer-Recipient: 0\n")
    assert "Sent through smtpeter" in result.stdout
