"""Throwaway TLS certificate authorities and server certificates for loopback tests.

::

    ctx, cafile = make_tls(tmp_path)         # server context for 127.0.0.1 + localhost, CA to trust
    with CDN(tls=ctx) as cdn:
        urlopen(cdn.url_for("a"), context=ssl.create_default_context(cafile=cafile))

    untrusted, _ = make_tls(tmp_path, ca="untrusted")  # signed by another CA: verification fails
    expired, _ = make_tls(tmp_path, expired=True)      # trusted CA, certificate expired yesterday
    wrong, _ = make_tls(tmp_path, hosts=("wrong.invalid",))  # trusted CA, another host name

Each CA lives in ``DIR/NAME.pem`` and ``DIR/NAME.key`` and is reused by later calls with the same
directory and name; every certificate gets new files. Uses the ``trustme`` package when it is
importable, else the ``openssl`` command line; ``TLSCA_BACKEND=trustme|openssl`` (or
``backend=``) forces one. Certificates use P-256 keys and carry the extensions that Python's
strict verification (3.13+) asks for.
"""

from __future__ import annotations

import datetime
import os
import secrets
import shutil
import ssl
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["CA", "DEFAULT_HOSTS", "available_backends", "make_tls"]

DEFAULT_HOSTS = ("127.0.0.1", "localhost")


def available_backends() -> list[str]:
    """The backends usable here, preferred first: "trustme" and/or "openssl"."""
    found = []
    try:
        import trustme  # noqa: F401
    except ImportError:
        pass
    else:
        found.append("trustme")
    if shutil.which("openssl"):
        found.append("openssl")
    return found


def _pick(backend: str | None) -> str:
    backend = backend or os.environ.get("TLSCA_BACKEND") or None
    found = available_backends()
    if backend is None:
        if not found:
            raise RuntimeError("tlsca needs the trustme package or the openssl command")
        return found[0]
    if backend not in ("trustme", "openssl"):
        raise ValueError(f"unknown tlsca backend {backend!r}")
    if backend not in found:
        raise RuntimeError(f"tlsca backend {backend!r} is not available here")
    return backend


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class CA:
    """A throwaway certificate authority whose certificate and key are files in ``directory``."""

    def __init__(
        self, directory: str | os.PathLike[str], name: str = "ca", *, backend: str | None = None
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.backend = _pick(backend)
        self.pem = self.directory / f"{name}.pem"  # the CA certificate: what clients trust
        self.key = self.directory / f"{name}.key"
        self._trustme: Any = None
        if not (self.pem.is_file() and self.key.is_file()):
            self._create()

    def issue(
        self, hosts: Sequence[str] = DEFAULT_HOSTS, *, expired: bool = False
    ) -> tuple[Path, Path]:
        """Write a server certificate for ``hosts`` (IPs or DNS names); return (chain, key) PEMs.

        ``expired=True`` makes a certificate that expired a day ago.
        """
        if not hosts:
            raise ValueError("a certificate needs at least one host")
        stem = self.directory / f"{self.name}-leaf-{secrets.token_hex(4)}"
        cert, key = stem.with_suffix(".pem"), stem.with_suffix(".key")
        if self.backend == "trustme":
            self._issue_trustme(list(hosts), expired, cert, key)
        else:
            self._issue_openssl(list(hosts), expired, cert, key, stem)
        return cert, key

    def server_context(
        self, hosts: Sequence[str] = DEFAULT_HOSTS, *, expired: bool = False
    ) -> ssl.SSLContext:
        """A server-side SSLContext presenting a new certificate for ``hosts``."""
        cert, key = self.issue(hosts, expired=expired)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A verifying client SSLContext that trusts this CA (only)."""
        return ssl.create_default_context(cafile=str(self.pem))

    # --- trustme ---
    def _ca_trustme(self) -> Any:
        import trustme

        if self._trustme is None:
            self._trustme = trustme.CA.from_pem(self.pem.read_bytes(), self.key.read_bytes())
        return self._trustme

    def _create(self) -> None:
        if self.backend == "trustme":
            import trustme

            ca = trustme.CA(organization_name=f"hatch-datafetch tests {self.name}")
            ca.private_key_pem.write_to_path(str(self.key))
            ca.cert_pem.write_to_path(str(self.pem))
            self._trustme = ca
            return
        conf = self.directory / f"{self.name}-ca.cnf"
        conf.write_text(
            "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n"
            "[v3_ca]\nbasicConstraints = critical, CA:TRUE\n"
            "keyUsage = critical, keyCertSign, cRLSign\n"
            "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n"
        )
        _openssl(
            "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", self.key, "-out", self.pem, "-days", "3650",
            "-subj", f"/O=hatch-datafetch tests/CN={self.name} CA",
            "-set_serial", str(secrets.randbits(62) + 1),
            "-config", conf, "-extensions", "v3_ca",
        )  # fmt: skip
        conf.unlink()

    def _issue_trustme(self, hosts: list[str], expired: bool, cert: Path, key: Path) -> None:
        kwargs = {}
        if expired:
            now = datetime.datetime.now(datetime.timezone.utc)
            kwargs = {"not_before": now - datetime.timedelta(days=2)}
            kwargs["not_after"] = now - datetime.timedelta(days=1)
        leaf = self._ca_trustme().issue_cert(*hosts, **kwargs)
        leaf.private_key_pem.write_to_path(str(key))
        cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))

    # --- openssl ---
    def _issue_openssl(
        self, hosts: list[str], expired: bool, cert: Path, key: Path, stem: Path
    ) -> None:
        conf, csr = stem.with_suffix(".cnf"), stem.with_suffix(".csr")
        alt = ", ".join(f"IP:{h}" if _is_ip(h) else f"DNS:{h}" for h in hosts)
        conf.write_text(
            "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n"
            "[leaf]\nbasicConstraints = critical, CA:FALSE\n"
            "keyUsage = critical, digitalSignature, keyEncipherment\n"
            "extendedKeyUsage = serverAuth\n"
            f"subjectAltName = {alt}\n"
            "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n"
        )
        _openssl(
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", csr, "-subj", f"/O=hatch-datafetch tests/CN={hosts[0]}",
            "-config", conf,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", csr, "-CA", self.pem, "-CAkey", self.key,
            "-set_serial", str(secrets.randbits(62) + 1),
            "-days", "-1" if expired else "30",  # -1: valid from now until yesterday
            "-extfile", conf, "-extensions", "leaf", "-out", cert,
        )  # fmt: skip
        csr.unlink()
        conf.unlink()


def _openssl(*args: str | Path) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise RuntimeError("the openssl command is not available")
    proc = subprocess.run(
        [exe, *map(str, args)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed ({proc.returncode}): {proc.stderr.strip()}")


def make_tls(
    directory: str | os.PathLike[str],
    *,
    ca: str = "ca",
    hosts: Sequence[str] = DEFAULT_HOSTS,
    expired: bool = False,
    backend: str | None = None,
) -> tuple[ssl.SSLContext, str]:
    """(server SSLContext for ``hosts``, path of the CA certificate PEM that signed it).

    The CA named ``ca`` in ``directory`` is created on first use and reused after, so certificates
    from ``make_tls(d)``, ``make_tls(d, expired=True)`` and ``make_tls(d, hosts=...)`` all chain
    to the CA file returned; ``make_tls(d, ca="untrusted")`` uses a second, independent CA.
    """
    authority = CA(directory, ca, backend=backend)
    return authority.server_context(hosts, expired=expired), str(authority.pem)
