"""Checking that a request really comes from Alexa, as Amazon's rules for skills hosted as a web
service require ("Verifying that the request was sent by Alexa"):

1. ``SignatureCertChainUrl``: scheme ``https`` (any case), host ``s3.amazonaws.com`` (any case),
   path beginning ``/echo.api/`` after normalisation (case-sensitive), port 443 if given.
2. The certificate chain at that URL (PEM, leaf first; cached): the signing certificate is within
   its validity, names ``echo-api.amazon.com`` among its subject alternative names, and chains
   to a trusted root. This is done by PyCA ``cryptography``'s X.509 path validation
   (``cryptography.x509.verification``, web-PKI profile) against certifi's Mozilla roots, or a CA
   bundle given in the channel's credentials (``trusted_ca_file``, for a test or private CA).
3. ``Signature-256``: base64 of the RSA PKCS#1 v1.5 / SHA-256 signature of the raw request body,
   checked with the signing certificate's public key.
(The timestamp tolerance, step 4, is checked by the channel itself on the parsed request.)

Why not ``ask-sdk-webservice-support``'s ``RequestVerifier``: its 1.3.x versions import
``certvalidator``, whose ``oscrypto`` 1.3.0 cannot load OpenSSL 3.0.10 or later ("Error
detecting the version of libcrypto"), so the module does not import on current systems. The
checks above follow that verifier's rules (its URL rules and header names are the same).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import posixpath
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

logger = logging.getLogger(__name__)

CERT_URL_HEADER = "SignatureCertChainUrl"
SIGNATURE_HEADER = "Signature-256"
CERT_URL_HOST = "s3.amazonaws.com"
CERT_URL_PATH_PREFIX = "/echo.api/"
SIGNING_NAME = "echo-api.amazon.com"
MAX_CHAIN_BYTES = 64 * 1024


class SignatureError(ValueError):
    """The request is not provably from Alexa; the message says which check failed."""


def check_cert_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise SignatureError(f"certificate URL is malformed: {e}") from e
    if parts.scheme.lower() != "https":
        raise SignatureError("certificate URL must use https")
    if (parts.hostname or "").lower() != CERT_URL_HOST:
        raise SignatureError(f"certificate URL host must be {CERT_URL_HOST}")
    if port not in (None, 443):
        raise SignatureError("certificate URL port must be 443")
    if not posixpath.normpath(parts.path or "/").startswith(CERT_URL_PATH_PREFIX.rstrip("/") + "/"):
        raise SignatureError(f"certificate URL path must start with {CERT_URL_PATH_PREFIX}")


def fetch_https(url: str, timeout_s: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout_s) as r:  # noqa: S310 - check_cert_url allows https only
        data = r.read(MAX_CHAIN_BYTES + 1)
    if len(data) > MAX_CHAIN_BYTES:
        raise SignatureError("certificate chain is too large")
    return data


def load_roots(ca_file: Optional[str] = None) -> List[x509.Certificate]:
    if ca_file is None:
        import certifi

        ca_file = certifi.where()
    roots = x509.load_pem_x509_certificates(Path(ca_file).read_bytes())
    if not roots:
        raise ValueError(f"no certificates in {ca_file}")
    return roots


class CertificateCache:
    """Certificate chains by URL, in memory and optionally on disk (``cache_dir``), for ``ttl_s``.

    Only the bytes are cached: every request's chain is validated again (validity changes with
    time). A pre-filled ``cache_dir`` is also how an offline test points the fetch at its own
    certificates."""

    def __init__(self, fetch: Callable[[str], bytes] = fetch_https, cache_dir: Optional[str] = None,
                 ttl_s: float = 24 * 3600.0, clock: Callable[[], float] = time.time) -> None:
        self.fetch = fetch
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.ttl_s = ttl_s
        self.clock = clock
        self._memory: Dict[str, Tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    def _file(self, url: str) -> Optional[Path]:
        return self.cache_dir / (hashlib.sha256(url.encode()).hexdigest() + ".pem") if self.cache_dir else None

    def get(self, url: str) -> bytes:
        now = self.clock()
        with self._lock:
            hit = self._memory.get(url)
        if hit and now - hit[0] < self.ttl_s:
            return hit[1]
        path = self._file(url)
        if path is not None and path.exists() and now - path.stat().st_mtime < self.ttl_s:
            data = path.read_bytes()
        else:
            try:
                data = self.fetch(url)
            except SignatureError:
                raise
            except Exception as e:  # noqa: BLE001 - network errors of any kind
                raise SignatureError(f"could not fetch the certificate chain: {e}") from e
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        with self._lock:
            self._memory[url] = (now, data)
        return data


class AlexaSignatureVerifier:
    def __init__(self, trusted_roots: Optional[List[x509.Certificate]] = None,
                 cache: Optional[CertificateCache] = None) -> None:
        self.store = Store(trusted_roots if trusted_roots is not None else load_roots())
        self.cache = cache or CertificateCache()

    def signing_certificate(self, url: str, now: Optional[float] = None) -> x509.Certificate:
        check_cert_url(url)
        pem = self.cache.get(url)
        try:
            chain = x509.load_pem_x509_certificates(pem)
        except ValueError as e:
            raise SignatureError("certificate chain is not valid PEM") from e
        leaf, intermediates = chain[0], chain[1:]
        when = datetime.fromtimestamp(time.time() if now is None else now, timezone.utc)
        verifier = PolicyBuilder().store(self.store).time(when).build_server_verifier(x509.DNSName(SIGNING_NAME))
        try:
            verifier.verify(leaf, intermediates)
        except VerificationError as e:
            raise SignatureError(f"certificate chain is not trusted for {SIGNING_NAME}: {e}") from e
        return leaf

    def verify(self, headers: Mapping[str, str], body: bytes, now: Optional[float] = None) -> None:
        """Returns when ``body`` was signed by Alexa; raises ``SignatureError`` otherwise."""
        lower = {k.lower(): v for k, v in headers.items()}
        url, signature = lower.get(CERT_URL_HEADER.lower()), lower.get(SIGNATURE_HEADER.lower())
        if not url or not signature:
            raise SignatureError(f"missing {CERT_URL_HEADER} or {SIGNATURE_HEADER} header")
        try:
            raw_signature = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError) as e:
            raise SignatureError("signature is not base64") from e
        leaf = self.signing_certificate(url, now)
        try:
            leaf.public_key().verify(raw_signature, body, PKCS1v15(), SHA256())
        except (InvalidSignature, TypeError, ValueError) as e:
            raise SignatureError("signature does not match the request body") from e
