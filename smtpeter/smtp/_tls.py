"""
TLS for the listeners: the operator's PEM certificate and key, or a
self-signed certificate generated for the hostname on first start.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet import ssl
from twisted.internet.ssl import TLSVersion


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


def loadServerOptions(certPath: Path, keyPath: Path) -> ssl.CertificateOptions:
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
    if chain[0].public_key().public_numbers() != key.public_key().public_numbers():
        raise CertificateError(
            f"the key in {keyPath} does not belong to the certificate in {certPath}"
        )
    # cryptography's objects, which pyOpenSSL takes as they are (its own
    # X509 and PKey objects are deprecated there).
    return ssl.CertificateOptions(
        privateKey=key,
        certificate=chain[0],
        extraCertChain=chain[1:],
        raiseMinimumTo=TLSVersion.TLSv1_2,
    )
