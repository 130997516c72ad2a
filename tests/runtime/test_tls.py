"""The listeners' TLS options: the operator's certificate (with its chain) or a self-signed one."""

from __future__ import annotations

import datetime
import ssl
import warnings

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from OpenSSL import SSL
from twisted.internet import reactor
from twisted.internet.endpoints import serverFromString

from smtpeter.runtime import withCipherPolicy
from smtpeter.runtime._tls import loadServerOptions


def _certificate(name: str, key, issuer: str, issuerKey) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(issuerKey, hashes.SHA256())
    )


def _handshake(server: SSL.Connection, client: SSL.Connection) -> None:
    """Both ends of a TLS handshake through memory, moving bytes until neither has more."""
    server.set_accept_state()
    client.set_connect_state()
    for _ in range(20):
        for a, b in ((client, server), (server, client)):
            try:
                a.do_handshake()
            except SSL.WantReadError:
                pass
            try:
                b.bio_write(a.bio_read(65536))
            except SSL.WantReadError:
                pass
    client.do_handshake()


def _chainFiles(tmp_path) -> tuple[x509.Certificate, x509.Certificate]:
    """A leaf certificate and its CA in cert.pem, the leaf's key in key.pem."""
    caKey, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Test CA", caKey, "Test CA", caKey)
    leaf = _certificate("gw.test", key, "Test CA", caKey)
    pem = serialization.Encoding.PEM
    (tmp_path / "cert.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return leaf, ca


def test_the_standard_library_context_sends_the_chain_and_no_session_tickets(tmp_path):
    leaf, ca = _chainFiles(tmp_path)
    context = loadServerOptions(tmp_path / "cert.pem", tmp_path / "key.pem").context
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.options & ssl.OP_NO_RENEGOTIATION
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = context.wrap_bio(incoming, outgoing, server_side=True)
    client = SSL.Connection(SSL.Context(SSL.TLS_CLIENT_METHOD), None)
    client.set_connect_state()
    for _ in range(20):
        try:
            client.do_handshake()
        except SSL.WantReadError:
            pass
        try:
            incoming.write(client.bio_read(65536))
        except SSL.WantReadError:
            pass
        try:
            server.do_handshake()
            break
        except ssl.SSLWantReadError:
            client.bio_write(outgoing.read())
    assert server.version() == "TLSv1.3"
    assert outgoing.pending == 0  # a TLS 1.3 server sends its tickets here: none
    chain = client.get_peer_cert_chain(as_cryptography=True)
    assert [c.subject for c in chain] == [leaf.subject, ca.subject]


def test_the_certificate_file_s_chain_is_sent_after_the_certificate(tmp_path):
    leaf, ca = _chainFiles(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing deprecated handed to pyOpenSSL
        options = loadServerOptions(tmp_path / "cert.pem", tmp_path / "key.pem")
        server = SSL.Connection(options.getContext(), None)
    client = SSL.Connection(SSL.Context(SSL.TLS_CLIENT_METHOD), None)
    _handshake(server, client)
    chain = client.get_peer_cert_chain(as_cryptography=True)
    assert [c.subject for c in chain] == [leaf.subject, ca.subject]


# -- the suites offered (issue 33, item 11) ---------------------------------

#: Mozilla's "intermediate" TLS 1.2 suites with ECDHE, by the certificate's key.
ALLOWED = {
    "ec": {
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    },
    "rsa": {
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-RSA-CHACHA20-POLY1305",
    },
}


def everyTLS12Suite() -> list[str]:
    """Every suite below TLS 1.3 that this OpenSSL knows, the weak and the null ones too."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    return [c["name"] for c in context.get_ciphers() if c["protocol"] != "TLSv1.3"]


def clientContext(suite: str | None = None) -> ssl.SSLContext:
    """A client that offers C{suite} alone with TLS 1.2 at most, or else TLS 1.3 only."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if suite is None:
        context.minimum_version = ssl.TLSVersion.TLSv1_3
    else:
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(suite + ":@SECLEVEL=0")
    return context


def writeCertificate(tmp_path, kind: str):
    """A self-signed certificate with an ECDSA P-256 or RSA 2048 key: (cert.pem, key.pem)."""
    key = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ec"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    pem = serialization.Encoding.PEM
    cert, keyFile = tmp_path / f"{kind}-cert.pem", tmp_path / f"{kind}-key.pem"
    cert.write_bytes(_certificate("gw.test", key, "gw.test", key).public_bytes(pem))
    keyFile.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, keyFile


def agreedWith(server, client: ssl.SSLContext) -> tuple[str, str] | None:
    """
    The (version, suite) a handshake through memory agreed on, or C{None}
    if it failed. C{server} is a standard library context or pyOpenSSL's.
    """
    toServer, toClient = ssl.MemoryBIO(), ssl.MemoryBIO()
    end = client.wrap_bio(toClient, toServer)
    if isinstance(server, ssl.SSLContext):
        fromClient, fromServer = ssl.MemoryBIO(), ssl.MemoryBIO()
        other = server.wrap_bio(fromClient, fromServer, server_side=True)

        def serverStep(data: bytes) -> bytes:
            fromClient.write(data)
            try:
                other.do_handshake()
            except ssl.SSLWantReadError:
                pass
            return fromServer.read()
    else:
        other = SSL.Connection(server, None)
        other.set_accept_state()

        def serverStep(data: bytes) -> bytes:
            if data:
                other.bio_write(data)
            try:
                other.do_handshake()
            except SSL.WantReadError:
                pass
            try:
                return other.bio_read(65536)
            except SSL.WantReadError:
                return b""

    try:
        for _ in range(10):
            try:
                end.do_handshake()
                return end.version(), end.cipher()[0]
            except ssl.SSLWantReadError:
                pass
            toClient.write(serverStep(toServer.read()))
    except (ssl.SSLError, SSL.Error):
        return None
    raise AssertionError("the handshake neither finished nor failed")


def offered(server) -> set[str]:
    """The TLS 1.2 suites C{server} agrees to, each tried alone."""
    found = set()
    for suite in everyTLS12Suite():
        agreed = agreedWith(server, clientContext(suite))
        if agreed is not None:
            assert agreed == ("TLSv1.2", suite)
            found.add(suite)
    return found


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_tls_1_2_offers_only_ecdhe_with_aes_gcm_or_chacha20(tmp_path, kind):
    options = loadServerOptions(*writeCertificate(tmp_path, kind))
    # The standard library's context (the SMTP listeners') and Twisted's.
    assert offered(options.context) == ALLOWED[kind]
    assert offered(options.getContext()) == ALLOWED[kind]
    for server in (options.context, options.getContext()):
        assert agreedWith(server, clientContext())[0] == "TLSv1.3"


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_an_ssl_endpoint_gets_the_same_suites(tmp_path, kind):
    cert, key = writeCertificate(tmp_path, kind)
    endpoint = serverFromString(reactor, f"ssl:0:privateKey={key}:certKey={cert}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the endpoint hands pyOpenSSL its deprecated objects
        twistedDefaults = endpoint._sslContextFactory.getContext()
    assert offered(twistedDefaults) > ALLOWED[kind]  # CBC, CCM, static RSA...
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pyOpenSSL's objects are made cryptography's
        context = withCipherPolicy(endpoint._sslContextFactory).getContext()
    assert offered(context) == ALLOWED[kind]
    assert agreedWith(context, clientContext())[0] == "TLSv1.3"
