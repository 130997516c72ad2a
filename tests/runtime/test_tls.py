"""The listeners' TLS options: the operator's certificate (with its chain) or a self-signed one."""

from __future__ import annotations

import datetime
import ssl
import warnings

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from OpenSSL import SSL
from twisted.internet import reactor
from twisted.internet.endpoints import serverFromString

from smtpeter.runtime import CertificateError, withCipherPolicy
from smtpeter.runtime._tls import loadServerOptions

from ..conftest import ALLOWED, _certificate, clientContext, everyTLS12Suite, writeCertificate


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


def _ed25519Files(tmp_path, name: str):
    """A self-signed Ed25519 certificate and its key: (name.pem, name.key)."""
    key = ed25519.Ed25519PrivateKey.generate()
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gw.test")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, None)
    )
    pem = serialization.Encoding.PEM
    cert, keyFile = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert.write_bytes(certificate.public_bytes(pem))
    keyFile.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, keyFile


def test_an_ed25519_certificate_and_its_key_are_taken(tmp_path):
    # Ed25519 keys have no public_numbers(): the key check compared those,
    # so such a certificate stopped the gateway with an AttributeError.
    cert, key = _ed25519Files(tmp_path, "a")
    options = loadServerOptions(cert, key)
    assert options.certificate.public_bytes(serialization.Encoding.PEM) == cert.read_bytes()


def test_an_ed25519_key_of_another_certificate_is_refused_in_one_line(tmp_path):
    cert, _ = _ed25519Files(tmp_path, "a")
    _, otherKey = _ed25519Files(tmp_path, "b")
    with pytest.raises(CertificateError, match="does not belong to the certificate"):
        loadServerOptions(cert, otherKey)
