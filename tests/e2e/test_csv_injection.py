"""
Security regression (issue 33, item 10): CSV formula injection. Anyone who
clicks a tracked link chooses its User-Agent, which the API's log files and
the dashboard export write out; an administrator's reason goes into the
suppression export. A spreadsheet must show such a cell as text, never run
it: every CSV the project writes prefixes it with a quote.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import re
import time

from .conftest import Client, get, path, tracked

FORMULA = "=cmd|' /C calc'!A0"


def test_a_clickers_user_agent_comes_out_of_the_logfile_csv_as_text(makeGateway, sink):
    gateway, body = tracked(makeGateway, sink)
    [link] = re.findall(r'href="(http://gw\.test:8080/c/[^"]+/deal)"', body)
    response, _ = get(gateway, path(link), **{"User-Agent": FORMULA})
    assert response.status == 302
    token = json.loads(gateway.cli("token", "create", "r", "--json").stdout)["token"]
    reader = Client(gateway, token)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    code, clicks, _ = reader.call("GET", f"/v1/logfiles/click?date={today}")
    assert code == 200 and [c["user_agent"] for c in clicks] == [FORMULA]  # JSON: as sent
    connection = http.client.HTTPConnection("127.0.0.1", gateway.httpPort, timeout=10)
    connection.request(
        "GET",
        f"/v1/logfiles/click?date={today}&format=csv",
        headers={"Authorization": f"Bearer {token}"},
    )
    answer = connection.getresponse()
    text = answer.read().decode()
    connection.close()
    assert answer.status == 200
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["user_agent"] == "'" + FORMULA
    assert row["email"] == "reader@example.org" and row["tags"] == "spring,sale"
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row.values())


def test_the_suppression_export_quotes_formulas_and_imports_back(gateway, tmp_path):
    reason = '=HYPERLINK("http://e")'
    gateway.cli("suppression", "add", "--reason", reason, "--", "-x@example.com")
    exported = gateway.cli("suppression", "export").stdout
    [row] = list(csv.DictReader(io.StringIO(exported)))
    assert row["email"] == "'-x@example.com"
    assert row["reason"] == "'" + reason
    # What export wrote, import reads back as it was.
    gateway.cli("suppression", "delete", "--", "-x@example.com")
    (tmp_path / "back.csv").write_text(exported)
    gateway.cli("suppression", "import", str(tmp_path / "back.csv"))
    [entry] = json.loads(gateway.cli("suppression", "list", "--json").stdout)
    assert entry["email"] == "-x@example.com" and entry["reason"] == reason
