"""Certificates for the test broker's TLS listeners, made with openssl (Debian's ``openssl``).

One throw-away CA signs the broker's certificate (SAN IP:127.0.0.1) and one client
certificate; the broker reads PEM files directly (``ssl.keystore.type=PEM``), so no keytool
or Java keystore is needed. Keys are unencrypted: they live in the broker's test directory.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

DAYS = "3650"


@dataclass(frozen=True)
class TlsFiles:
    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def broker_keystore(self) -> Path:
        """The broker's private key and certificate in one PEM file."""
        return self.directory / "broker-keystore.pem"

    @property
    def client_certificate(self) -> Path:
        return self.directory / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.directory / "client.key"

    def exist(self) -> bool:
        files = (self.ca, self.broker_keystore, self.client_certificate, self.client_key)
        return all(path.exists() for path in files)


def openssl_available() -> bool:
    return shutil.which("openssl") is not None


def ensure_tls_files(directory: Path) -> TlsFiles:
    """Make the CA, broker and client certificates once (kept across broker restarts)."""
    files = TlsFiles(directory)
    if files.exist():
        return files
    directory.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl(
        *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", DAYS),
        *("-subj", "/CN=sharegroups-test-ca", "-keyout", "ca.key", "-out", "ca.pem"),
    )
    for name, subject, extension in (
        ("broker", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1"),
        ("client", "/CN=sharegroups-client", "extendedKeyUsage=clientAuth"),
    ):
        openssl(
            *("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject),
            *("-keyout", f"{name}.key", "-out", f"{name}.csr"),
        )
        (directory / f"{name}.ext").write_text(extension + "\n")
        openssl(
            *("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key"),
            *("-CAcreateserial", "-days", DAYS, "-extfile", f"{name}.ext"),
            *("-out", f"{name}.pem"),
        )
    # Kafka's PEM keystore wants a PKCS#8 key followed by the certificate chain.
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", "broker.key", "-out", "broker.pk8")
    keystore = (directory / "broker.pk8").read_text() + (directory / "broker.pem").read_text()
    files.broker_keystore.write_text(keystore)
    return files
