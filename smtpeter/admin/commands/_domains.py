"""
C{smtpeter domain}: DKIM keys of sender domains, and the DNS records to publish.
"""

from __future__ import annotations

import json
from pathlib import Path

from ...store import StoreError
from .. import Administration
from ._output import printList, when


def _printRecord(record: dict, verb: str) -> None:
    print(f"{verb} DKIM key for {record['domain']} (selector {record['selector']})")
    print("Publish this DNS TXT record, then mail from the domain is signed:")
    print(f"  name:  {record['name']}")
    print(f"  value: {record['txt']}")
    print(f"  zone file line: {record['name']}. IN TXT {_zoneQuoted(record['txt'])}")


def _zoneQuoted(value: str) -> str:
    """A TXT value as quoted strings of at most 255 characters each, as DNS needs."""
    return " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))


def _showKey(key: dict) -> str:
    state = "signing" if key["active"] else "retired"
    return (
        f"{key['domain']}  {key['selector']}  {state}  created {when(key['created'])}\n"
        f"    {key['name']} TXT {key['txt']}"
    )


def run(admin: Administration, args) -> None:
    if args.action == "list":
        printList(
            admin.listDomains(),
            args.json,
            "no DKIM domains yet; add one with: smtpeter domain add DOMAIN",
            _showKey,
        )
        return
    if args.action == "delete":
        count = admin.deleteDomain(args.domain)["deleted"]
        print(f"deleted {count} key(s) of {args.domain}; its mail is no longer signed")
        return
    if args.action == "add":
        record = admin.addDomain(args.domain, args.selector)
        verb = "created"
    elif args.action == "rotate":
        record = admin.rotateDomain(args.domain, args.selector)
        verb = "rotated to a new"
    else:
        try:
            pem = Path(args.key).read_bytes()
        except OSError as e:
            raise StoreError(f"cannot read {args.key}: {e.strerror}") from e
        record = admin.importDomainKey(args.domain, pem, args.selector)
        verb = "imported"
    if args.json:
        print(json.dumps(record))
        return
    _printRecord(record, verb)
    if args.action == "rotate":
        print(
            "Mail is signed with the new key from now on. Keep the old record published"
            " for a few days, then remove it and run 'smtpeter domain list' to check."
        )


def addParser(sub) -> None:
    """Add the C{domain} command to C{sub}, the subparsers of C{smtpeter}."""
    domain = sub.add_parser(
        "domain",
        help="manage DKIM keys of sender domains",
        description="Manage DKIM keys. Mail whose From domain (or a parent domain) has a"
        " key is signed after every other change. Each command that makes a key prints"
        " the DNS TXT record to publish.",
    )
    domainActions = domain.add_subparsers(dest="action", required=True, metavar="ACTION")
    jsonHelp = "print one JSON object with domain, selector, name and txt (the record's value)"
    add = domainActions.add_parser("add", help="make an RSA-2048 key for a domain")
    add.add_argument("domain", help="the sender domain to sign for, e.g. example.com")
    add.add_argument(
        "--selector", help="the DKIM selector [default: smtpeterYYYYMMDD, today's date]"
    )
    add.add_argument("--json", action="store_true", help=jsonHelp)
    imported = domainActions.add_parser(
        "import", help="install your own private key (PEM, RSA, unencrypted)"
    )
    imported.add_argument("domain", help="the sender domain the key signs for")
    imported.add_argument("--key", required=True, metavar="FILE", help="the PEM private key")
    imported.add_argument("--selector", required=True, help="the selector its record is under")
    imported.add_argument("--json", action="store_true", help=jsonHelp)
    rotate = domainActions.add_parser(
        "rotate", help="sign with a new key from now on; the old one is kept as retired"
    )
    rotate.add_argument("domain", help="a domain that has a key (see 'smtpeter domain list')")
    rotate.add_argument("--selector", help="the new key's selector [default: from the date]")
    rotate.add_argument("--json", action="store_true", help=jsonHelp)
    domainList = domainActions.add_parser(
        "list", help="domains, their selectors and the TXT records to publish"
    )
    domainList.add_argument("--json", action="store_true", help="print a JSON array")
    domainActions.add_parser("delete", help="delete a domain and all its keys").add_argument(
        "domain", help="a domain that has a key (see 'smtpeter domain list')"
    )
