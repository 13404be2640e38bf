"""The lab's credentials: its CA (which also signs every host's certificate, through the common role), the S3
endpoint's certificate, the SSH key the hosts trust, and random per-lab secrets. All of it under .lab/, 0600."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import secrets
import ssl
from pathlib import Path

from maestro.lab.system import run, write_private
from maestro.lab.topology import GATEWAY, LAB_DIR, S3_HOST

PKI_DIR = LAB_DIR / "pki"
CA_FILE = PKI_DIR / "ca.crt"
SSH_KEY = LAB_DIR / "keys" / "id_ed25519"
SECRETS_FILE = LAB_DIR / "secrets.json"
# Every boot of a fresh overlay gives a host new SSH host keys, so there is nothing to pin in a known_hosts file.
SSH_OPTIONS = ("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR")


def ensure_pki() -> Path:
    """The lab CA (also used by the roles to sign host certificates) and the S3 endpoint's certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def save(key: ec.EllipticCurvePrivateKey, crt: x509.Certificate, key_path: Path, crt_path: Path) -> None:
        pem = serialization.Encoding.PEM
        write_private(key_path, key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        crt_path.write_bytes(crt.public_bytes(pem))

    pki = PKI_DIR
    pki.mkdir(parents=True, exist_ok=True)
    pki.chmod(0o700)
    ca_key_path, ca_crt_path = pki / "ca.key", pki / "ca.crt"
    now = dt.datetime.now(dt.UTC)
    if not (ca_key_path.exists() and ca_crt_path.exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Maestro lab CA")])
        crt = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        save(key, crt, ca_key_path, ca_crt_path)
    s3_key_path, s3_crt_path = pki / "s3.key", pki / "s3.crt"
    if not (s3_key_path.exists() and s3_crt_path.exists()):
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        ca_crt = x509.load_pem_x509_certificate(ca_crt_path.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        crt = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, S3_HOST)]))
            .issuer_name(ca_crt.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=825))
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(S3_HOST), x509.IPAddress(ipaddress.ip_address(GATEWAY))]),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        )
        save(key, crt, s3_key_path, s3_crt_path)
    return pki


def ensure_ssh_key() -> Path:
    """The SSH key pair every host trusts for root (generated once)."""
    key = SSH_KEY
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        key.parent.chmod(0o700)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "maestro-lab", "-f", key])
    return key


def ensure_secrets() -> dict[str, str]:
    """Random per-lab secrets, generated once, kept in .lab/secrets.json (mode 0600)."""
    path = SECRETS_FILE
    data: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = (
        "postgres_superuser_password",
        "postgres_replication_password",
        "postgres_rewind_password",
        "mlflow_db_password",
        "api_db_owner_password",
        "api_db_password",
        "redis_password",
        "api_key_pepper",
        "api_audit_key",
        "api_metrics_token",
        "s3_access_key",
        "s3_secret_key",
        "pgbackrest_cipher_pass",
        "postgres_exporter_password",
        "mlflow_token",
        "patroni_rest_password",
        "etcd_root_password",
        "etcd_patroni_password",
        "haproxy_stats_password",
        "prometheus_password",
        "alertmanager_password",
        "exporter_password",
        "ui_oidc_client_secret",
    )
    changed = False
    for name in wanted:
        if name not in data:
            data[name] = secrets.token_urlsafe(24)
            changed = True
    if changed:
        write_private(path, json.dumps(data, indent=2).encode())
    return data


def ca_context() -> ssl.SSLContext:
    """TLS that trusts the lab's CA (every lab certificate also names its host's IP)."""
    return ssl.create_default_context(cafile=str(CA_FILE))
