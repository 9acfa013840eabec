"""A throwaway PKI for the local API server, made with the openssl command line.

The openssl CLI is on every machine that has Kubernetes tooling, so no Python crypto package is
needed. EC P-256 keys: generated in milliseconds, accepted by every Kubernetes component.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

_EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
_DAYS = "3650"

# Names the serving certificate answers to: loopback for us, the in-cluster names for anything
# that resolves `kubernetes.default.svc` (first address of the service range).
SERVING_NAMES = (
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
    "IP:127.0.0.1",
    "IP:10.0.0.1",
)


@dataclass(frozen=True)
class ClusterPKI:
    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path  # CN=admin, O=system:masters
    admin_key: Path
    service_account_key: Path  # signs service-account tokens
    service_account_pub: Path


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {result.stderr.strip()}")


def _issue(directory: Path, name: str, subject: str, extensions: str) -> tuple[Path, Path]:
    key, csr, cert, ext = (directory / f"{name}.{suffix}" for suffix in ("key", "csr", "crt", "ext"))
    ext.write_text(extensions)
    _openssl("req", *_EC_KEY, "-keyout", str(key), "-out", str(csr), "-subj", subject, cwd=directory)
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", "ca.crt", "-CAkey", "ca.key",
        "-set_serial", f"0x{secrets.token_hex(16)}", "-days", _DAYS, "-out", str(cert),
        "-extfile", str(ext),
        cwd=directory,
    )  # fmt: skip
    csr.unlink()
    ext.unlink()
    return cert, key


def generate_pki(directory: Path) -> ClusterPKI:
    directory.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", *_EC_KEY, "-keyout", "ca.key", "-out", "ca.crt", "-days", _DAYS,
        "-subj", "/CN=modelrollout-local-ca",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    serving_cert, serving_key = _issue(
        directory,
        "apiserver",
        "/CN=kube-apiserver",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        f"extendedKeyUsage=serverAuth\nsubjectAltName={','.join(SERVING_NAMES)}\n",
    )
    admin_cert, admin_key = _issue(
        directory,
        "admin",
        "/O=system:masters/CN=admin",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    )
    _openssl(
        "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-out", "service-account.key",
        cwd=directory,
    )  # fmt: skip
    _openssl("pkey", "-in", "service-account.key", "-pubout", "-out", "service-account.pub", cwd=directory)
    return ClusterPKI(
        ca_cert=directory / "ca.crt",
        ca_key=directory / "ca.key",
        serving_cert=serving_cert,
        serving_key=serving_key,
        admin_cert=admin_cert,
        admin_key=admin_key,
        service_account_key=directory / "service-account.key",
        service_account_pub=directory / "service-account.pub",
    )
