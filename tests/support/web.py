"""A local web of real sockets for the web-dataset tests: an HTTPS file server under a throwaway
CA, a plain HTTP one, and an HTTP CONNECT proxy that tunnels every host to the HTTPS server.

Everything listens on 127.0.0.1 and stops with the fixture. The servers count what they were
asked (``requests``: (method, path); ``tunnels``: the CONNECT targets), so tests can assert that
building a dataset fetched nothing and that a fetch went through the proxy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import select
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: the made-up host the proxied tests ask for; only the proxy knows where it is
DATA_HOST = "data.azml-test.invalid"


def make_ca_and_cert(folder: Path, hosts: list[str]) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server.key): a CA valid for a day and a server certificate for ``hosts``."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "azml test CA")])

    def cert(subject: x509.Name, public_key, is_ca: bool, sans: list[str]) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
        )
        if is_ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(h) for h in sans]), critical=False
            )
        return builder.sign(ca_key, hashes.SHA256())

    ca_cert = cert(ca_name, ca_key.public_key(), True, [])
    srv_cert = cert(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]), key.public_key(), False, hosts
    )
    ca, srv, srv_key = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    srv.write_bytes(srv_cert.public_bytes(serialization.Encoding.PEM))
    srv_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca, srv, srv_key


@dataclass
class Site:
    """The files served (path -> bytes) and what was asked for."""

    files: dict[str, bytes] = field(default_factory=dict)
    etags: bool = True
    requests: list[tuple[str, str]] = field(default_factory=list)
    tunnels: list[str] = field(default_factory=list)

    def put(self, path: str, data: bytes) -> None:
        self.files[path] = data

    def gets(self, path: str) -> int:
        return sum(1 for method, p in self.requests if method == "GET" and p == path)


class _Files(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        site: Site = self.server.site  # type: ignore[attr-defined]
        path = self.path.split("://", 1)[-1].split("/", 1)[-1] if "://" in self.path else self.path
        path = "/" + path.lstrip("/")
        site.requests.append((self.command, path))
        data = site.files.get(path)
        if data is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        if site.etags:
            self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest()[:16] + '"')
        self.end_headers()
        if body:
            self.wfile.write(data)


class _Proxy(BaseHTTPRequestHandler):
    """CONNECT any host:443 -> the local HTTPS server; everything else is refused."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_CONNECT(self) -> None:
        site: Site = self.server.site  # type: ignore[attr-defined]
        site.tunnels.append(self.path)
        upstream = socket.create_connection(("127.0.0.1", self.server.https_port))  # type: ignore[attr-defined]
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        pair = {self.connection: upstream, upstream: self.connection}
        try:
            while True:
                ready, _, _ = select.select(list(pair), [], [], 30)
                if not ready:
                    return
                for sock in ready:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    pair[sock].sendall(chunk)
        except OSError:
            pass
        finally:
            upstream.close()

    def do_GET(self) -> None:
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext | None = None

    def finish_request(self, request, client_address) -> None:
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address) -> None:
        pass


class LocalWeb:
    """Starts the three servers; ``https_url(path)`` (direct, host localhost), ``proxied_url(path)``
    (host DATA_HOST, reachable only through ``proxy``), ``http_url(path)``; ``close()`` stops them."""

    def __init__(self, folder: Path):
        self.site = Site()
        folder.mkdir(parents=True, exist_ok=True)
        self.ca, cert, key = make_ca_and_cert(folder, ["localhost", DATA_HOST])
        self.https = _Server(("127.0.0.1", 0), _Files)
        self.https.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.https.tls.load_cert_chain(cert, key)
        self.http = _Server(("127.0.0.1", 0), _Files)
        self.proxy_server = _Server(("127.0.0.1", 0), _Proxy)
        self.proxy_server.https_port = self.https.server_address[1]  # type: ignore[attr-defined]
        self.servers = (self.https, self.http, self.proxy_server)
        for server in self.servers:
            server.site = self.site  # type: ignore[attr-defined]
            threading.Thread(target=server.serve_forever, daemon=True).start()
        self.proxy = f"http://127.0.0.1:{self.proxy_server.server_address[1]}"

    def https_url(self, path: str) -> str:
        return f"https://localhost:{self.https.server_address[1]}{path}"

    def proxied_url(self, path: str) -> str:
        return f"https://{DATA_HOST}{path}"

    def http_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}{path}"

    def proxy_env(self) -> dict[str, str]:
        """What a corporate network sets: the proxy, local hosts exempt, and the CA bundle."""
        return {
            "HTTPS_PROXY": self.proxy,
            "HTTP_PROXY": self.proxy,
            "NO_PROXY": "localhost,127.0.0.1",
            "REQUESTS_CA_BUNDLE": str(self.ca),
            "SSL_CERT_FILE": str(self.ca),
        }

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
