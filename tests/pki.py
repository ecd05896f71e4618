"""A certificate authority made in the test, for Alexa request signatures offline: a root, an
intermediate, and a signing certificate like Amazon's (echo-api.amazon.com, server auth)."""
from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_URL = "https://s3.amazonaws.com/echo.api/echo-api-cert-test.pem"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test")])


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cert(subject, subject_key, issuer, issuer_key, ca: bool, not_before, not_after, san: Optional[str] = None):
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(subject_key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None if ca else None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False))
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
    else:
        b = (b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                           data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                           crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
             .add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False))
    return b.sign(issuer_key, hashes.SHA256())


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@dataclass
class TestPKI:
    root: x509.Certificate
    intermediate: x509.Certificate
    leaf: x509.Certificate
    leaf_key: rsa.RSAPrivateKey

    @property
    def chain_pem(self) -> bytes:
        return pem(self.leaf, self.intermediate)

    @property
    def root_pem(self) -> bytes:
        return pem(self.root)

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self.leaf_key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()

    def headers(self, body: bytes, url: str = CERT_URL) -> dict:
        return {"SignatureCertChainUrl": url, "Signature-256": self.sign(body)}


def make_pki(san: str = "echo-api.amazon.com", leaf_valid_days=(-1, 30)) -> TestPKI:
    now = dt.datetime.now(dt.timezone.utc)
    root_key, inter_key, leaf_key = _key(), _key(), _key()
    root_name, inter_name = _name("Test Root CA"), _name("Test Intermediate CA")
    root = _cert(root_name, root_key, root_name, root_key, True, now - dt.timedelta(days=10), now + dt.timedelta(days=3650))
    inter = _cert(inter_name, inter_key, root_name, root_key, True, now - dt.timedelta(days=10), now + dt.timedelta(days=1000))
    leaf = _cert(_name(san), leaf_key, inter_name, inter_key, False, now + dt.timedelta(days=leaf_valid_days[0]),
                 now + dt.timedelta(days=leaf_valid_days[1]), san=san)
    return TestPKI(root, inter, leaf, leaf_key)
