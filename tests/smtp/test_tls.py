"""The listeners' TLS options: the operator's certificate (with its chain) or a self-signed one."""

from __future__ import annotations

import datetime
import ssl
import warnings

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

from smtpeter.smtp._tls import loadServerOptions


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
