"""
TLS for the listeners: the operator's PEM certificate and key, or a
self-signed certificate generated for the hostname on first start.

The options hold the certificate twice: in a standard library context,
with which the listeners' own connections speak TLS, STARTTLS and implicit
(L{smtpeter.runtime._writethrough.WriteThroughServer}), and for Twisted's TLS
(pyOpenSSL), for connections that Twisted makes itself. Both take the same
ciphers and versions and offer no session resumption.

Every listener offers the same suites: TLS 1.3 with OpenSSL's own (all
AEAD), and TLS 1.2 with L{TLS12_CIPHERS} only. The HTTPS listeners
(C{ssl:} endpoints) get them through L{withCipherPolicy}.
"""

from __future__ import annotations

import datetime
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import NameOID
from twisted.internet.ssl import AcceptableCiphers, CertificateOptions, TLSVersion

#: What TLS 1.2 offers, in order of preference: Mozilla's "intermediate"
#: profile (https://wiki.mozilla.org/Security/Server_Side_TLS) with ECDHE
#: only, that is forward secrecy with AES-GCM or ChaCha20-Poly1305. No CBC
#: suite (LUCKY13), no CCM, no static RSA key exchange and no DHE. Which
#: half is used depends on the certificate's key: ECDSA or RSA. TLS 1.3
#: suites are not set here: OpenSSL's defaults, all AEAD.
TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
)
_ACCEPTABLE = AcceptableCiphers.fromOpenSSLCipherString(":".join(TLS12_CIPHERS))


class CertificateError(Exception):
    """The certificate or key cannot be used; the text says what to do."""


def generateSelfSigned(hostname: str, certPath: Path, keyPath: Path) -> None:
    """Write a new self-signed certificate (ECDSA P-256, 10 years) for C{hostname}."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    certPath.parent.mkdir(parents=True, exist_ok=True)
    keyBytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(keyPath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(keyBytes)
    certPath.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def _publicKey(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class ServerTLSOptions(CertificateOptions):
    """Twisted's TLS options, with the same certificate in C{context}, a standard library one."""

    def __init__(self, context: ssl.SSLContext, **kwargs) -> None:
        super().__init__(**kwargs)
        self.context = context


def loadServerOptions(certPath: Path, keyPath: Path) -> ServerTLSOptions:
    """TLS server options from PEM files (the certificate file may hold a chain)."""
    try:
        certData = certPath.read_bytes()
        keyData = keyPath.read_bytes()
    except OSError as e:
        raise CertificateError(f"cannot read {e.filename}: {e.strerror}")
    try:
        chain = x509.load_pem_x509_certificates(certData)
    except ValueError:
        raise CertificateError(f"{certPath} does not hold a PEM certificate")
    try:
        key = serialization.load_pem_private_key(keyData, password=None)
    except (ValueError, TypeError):
        raise CertificateError(f"{keyPath} does not hold an unencrypted PEM private key")
    # Compared as encoded public keys: Ed25519 and Ed448 keys have no numbers.
    if _publicKey(chain[0].public_key()) != _publicKey(key.public_key()):
        raise CertificateError(
            f"the key in {keyPath} does not belong to the certificate in {certPath}"
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certPath, keyPath)
    except (OSError, ssl.SSLError) as e:
        raise CertificateError(f"OpenSSL cannot use {certPath} with {keyPath}: {e}")
    # cryptography's objects, which pyOpenSSL takes as they are (its own
    # X509 and PKey objects are deprecated there).
    options = ServerTLSOptions(
        context,
        privateKey=key,
        certificate=chain[0],
        extraCertChain=chain[1:],
        raiseMinimumTo=TLSVersion.TLSv1_2,
        acceptableCiphers=_ACCEPTABLE,
    )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # The ciphers Twisted chose for its side, so that both sides agree.
    context.set_ciphers(options._cipherString)
    # No resumption, as on Twisted's side (its session cache is off): a TLS
    # 1.3 ticket would cost a record and its encryption on every
    # connection, and no client could use it.
    context.num_tickets = 0
    context.options |= ssl.OP_NO_TICKET
    # A TLS 1.2 client asking for handshake after handshake on one
    # connection would make us pay for each: refused.
    context.options |= ssl.OP_NO_RENEGOTIATION
    return options


def withCipherPolicy(options: CertificateOptions) -> CertificateOptions:
    """
    The TLS options an C{ssl:} endpoint made from its string, with the
    gateway's versions and suites (TLS 1.2 minimum, L{TLS12_CIPHERS}) in
    place of Twisted's defaults; the same key, certificate, chain and DH
    parameters. (An C{sslmethod=} of the string is not kept: the policy
    sets the versions.)
    """
    return CertificateOptions(
        privateKey=_cryptography(options.privateKey),
        certificate=_cryptography(options.certificate),
        extraCertChain=[_cryptography(c) for c in options.extraCertChain] or None,
        dhParameters=options.dhParameters,
        raiseMinimumTo=TLSVersion.TLSv1_2,
        acceptableCiphers=_ACCEPTABLE,
    )


def _cryptography(value):
    """pyOpenSSL's X509 or PKey (what endpoints make; deprecated there) as cryptography's."""
    for name in ("to_cryptography", "to_cryptography_key"):
        if hasattr(value, name):
            return getattr(value, name)()
    return value
