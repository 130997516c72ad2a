"""Where webhooks may go: the address classifier, the allowed networks, the check at creation."""

from __future__ import annotations

import socket

import pytest

from smtpeter.events import Destinations, RefusedDestination, parseNetwork
from smtpeter.events._destinations import classify, parseAddress

#: (host as written in a URL, what it is to the system resolver, why it is refused)
REFUSED = [
    ("127.0.0.1", "127.0.0.1", "loopback"),
    ("127.255.255.254", "127.255.255.254", "loopback"),
    ("2130706433", "127.0.0.1", "loopback"),  # one 32-bit number
    ("127.1", "127.0.0.1", "loopback"),  # a.b: b fills 24 bits
    ("127.0.1", "127.0.0.1", "loopback"),
    ("0x7f.1", "127.0.0.1", "loopback"),  # hexadecimal parts
    ("0x7f000001", "127.0.0.1", "loopback"),
    ("0177.0.0.1", "127.0.0.1", "loopback"),  # octal parts
    ("017700000001", "127.0.0.1", "loopback"),
    ("[::1]", "::1", "loopback"),
    ("::1", "::1", "loopback"),
    ("[0:0:0:0:0:0:0:1]", "::1", "loopback"),
    ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("[::ffff:7f00:1]", "::ffff:127.0.0.1", "loopback"),
    ("[::ffff:10.0.0.1]", "::ffff:10.0.0.1", "private"),
    ("[64:ff9b::7f00:1]", "64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
    ("[64:ff9b::a9fe:a9fe]", "64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ("[2002:7f00:1::]", "2002:7f00:1::", "6to4 of 127.0.0.1, loopback"),
    ("[2002:c0a8:101::1]", "2002:c0a8:101::1", "6to4 of 192.168.1.1, private"),
    ("0.0.0.0", "0.0.0.0", "unspecified"),
    ("0", "0.0.0.0", "unspecified"),
    ("[::]", "::", "unspecified"),
    ("169.254.169.254", "169.254.169.254", "link-local"),  # cloud metadata
    ("[fe80::1]", "fe80::1", "link-local"),
    ("[fe80::1%eth0]", "fe80::1%eth0", "link-local"),
    ("[fd00:ec2::254]", "fd00:ec2::254", "private"),  # EC2 metadata over IPv6, RFC 4193
    ("[fc00::1]", "fc00::1", "private"),
    ("[fec0::1]", "fec0::1", "site-local"),
    ("10.0.0.1", "10.0.0.1", "private"),
    ("012.0.0.1", "10.0.0.1", "private"),  # octal 012 is 10
    ("172.16.0.1", "172.16.0.1", "private"),
    ("172.31.255.255", "172.31.255.255", "private"),
    ("192.168.1.1", "192.168.1.1", "private"),
    ("3232235777", "192.168.1.1", "private"),
    ("100.64.0.1", "100.64.0.1", "not public"),  # carrier-grade NAT
    ("192.0.0.8", "192.0.0.8", "not public"),
    ("192.0.2.1", "192.0.2.1", "private"),  # documentation
    ("[2001:db8::1]", "2001:db8::1", "private"),
    ("224.0.0.1", "224.0.0.1", "multicast"),
    ("239.255.255.250", "239.255.255.250", "multicast"),
    ("[ff02::1]", "ff02::1", "multicast"),
    ("[ff0e::1]", "ff0e::1", "multicast"),  # global scope, still multicast
    ("240.0.0.1", "240.0.0.1", "reserved"),
    ("255.255.255.255", "255.255.255.255", "reserved"),  # broadcast
    ("[::7f00:1]", "::7f00:1", "reserved"),  # IPv4-compatible, deprecated
    ("[64:ff9b:1::1]", "64:ff9b:1::1", "reserved"),  # local-use NAT64
]

PUBLIC = [
    "93.184.215.14",
    "1.1.1.1",
    "8.8.8.8",
    "[2606:4700:4700::1111]",
    "[::ffff:8.8.8.8]",
    "[64:ff9b::808:808]",  # NAT64 of a public address
    "[2002:808:808::1]",  # 6to4 of a public address
]


@pytest.mark.parametrize(("host", "address", "why"), REFUSED)
def test_each_spelling_is_read_as_the_resolver_reads_it_and_refused(host, address, why):
    parsed = parseAddress(host)
    assert parsed is not None and parsed == parseAddress(address)
    assert classify(parsed) == why
    refusal = Destinations().refusal(host)
    assert refusal is not None and refusal.startswith("destination ")
    assert "is not allowed" in refusal and why in refusal and "--webhook-allow-network" in refusal


@pytest.mark.parametrize("host", [h for h, _, _ in REFUSED if ":" not in h])
def test_the_system_resolver_agrees_on_every_ipv4_spelling(host):
    """What parseAddress reads is what getaddrinfo, which delivery uses, connects to."""
    [(*_, (resolved, _))] = socket.getaddrinfo(host, 80, socket.AF_INET, socket.SOCK_STREAM)
    assert parseAddress(resolved) == parseAddress(host)


@pytest.mark.parametrize("host", PUBLIC)
def test_public_addresses_are_allowed(host):
    assert classify(parseAddress(host)) is None
    assert Destinations().refusal(host) is None


def test_names_are_not_addresses():
    for name in ("localhost", "hooks.example.com", "abc.de", "127.0.0.1.nip.io", "x"):
        assert parseAddress(name) is None


def test_the_error_names_the_address_connected_to():
    assert Destinations().refusal("2130706433") == (
        "destination 127.0.0.1 is not allowed (loopback; see --webhook-allow-network)"
    )
    assert (
        Destinations()
        .refusal("::ffff:127.0.0.1")
        .startswith("destination ::ffff:127.0.0.1 is not allowed (loopback")
    )


def test_allowed_networks_let_their_addresses_through_and_no_others():
    allowed = Destinations([parseNetwork("127.0.0.0/8"), parseNetwork("fd00::/8")])
    for host in ("127.0.0.1", "127.1", "2130706433", "::ffff:127.0.0.1", "fd00:ec2::254"):
        assert allowed.refusal(host) is None, host
    for host in ("::1", "10.0.0.1", "169.254.169.254", "0.0.0.0", "fc00::1"):
        assert "is not allowed" in allowed.refusal(host), host
    one = Destinations([parseNetwork("192.168.1.20")])
    assert one.refusal("192.168.1.20") is None
    assert one.refusal("192.168.1.21") is not None


@pytest.mark.parametrize("text", ["10.0.0.1/8", "10.0.0.0/33", "private", "", "fd00::/129"])
def test_a_bad_network_says_what_to_write(text):
    with pytest.raises(ValueError, match="--webhook-allow-network .*e.g.|such as 10.0.0.0/8"):
        parseNetwork(text)


def test_networks_in_their_usual_spellings():
    assert str(parseNetwork("10.0.0.0/8")) == "10.0.0.0/8"
    assert str(parseNetwork("[fd00::]/8")) == "fd00::/8"
    assert str(parseNetwork(" 127.0.0.1 ")) == "127.0.0.1/32"


def fakeResolver(table):
    def resolve(host, port, type=0):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        family = {4: socket.AF_INET, 6: socket.AF_INET6}
        return [(family[parseAddress(a).version], type, 6, "", (a, port)) for a in table[host]]

    return resolve


def test_at_creation_a_name_that_resolves_to_a_refused_address_is_refused():
    resolve = fakeResolver(
        {
            "hooks.example.com": ["93.184.215.14"],
            "inside.example.com": ["10.1.2.3", "10.1.2.3", "fd00::1"],
            "mixed.example.com": ["127.0.0.1", "93.184.215.14"],
        }
    )
    policy = Destinations()
    policy.checkURL("https://hooks.example.com/in", resolve)
    policy.checkURL("https://not-yet.example.com/in", resolve)  # checked again at delivery
    with pytest.raises(RefusedDestination, match="inside.example.com resolves to 10.1.2.3: dest"):
        policy.checkURL("https://inside.example.com/in", resolve)
    # Delivery connects only to the public one; refusing it would protect nothing.
    policy.checkURL("http://mixed.example.com:8080/in", resolve)
    with pytest.raises(RefusedDestination, match="inside.example.com resolves to 10.1.2.3"):
        policy.checkURL("http://inside.example.com:8080/in", resolve)
    Destinations([parseNetwork("10.0.0.0/8")]).checkURL("https://inside.example.com/", resolve)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/",
        "http://localhost/",
        "http://[::1]:9/",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://127.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "https://user:pw@127.0.0.1:443/",
        "http://LOCALHOST./",
        "http://hooks.localhost/",
    ],
)
def test_at_creation_the_issues_urls_are_refused(url):
    with pytest.raises(RefusedDestination, match="is not allowed"):
        Destinations().checkURL(url)


def test_at_creation_what_is_not_a_url_is_left_to_the_store():
    for url in ("ftp://", "not a url", "http://[::1/", "http://h:99999/"):
        Destinations().checkURL(url)  # no DNS, no error here: the store answers it
