"""Files behind web URLs (``Dataset.File.from_files("https://...")``), fetched when data is read.

Nothing here runs when a dataset is built: a URL is fetched when a step resolves its inputs or
when the driver asks for the data (``to_pandas_dataframe``, ``download``, ``to_path``). Requests
go through the standard library and honour what corporate networks set: ``HTTPS_PROXY`` /
``HTTP_PROXY`` / ``NO_PROXY`` (either case) and a CA bundle from ``REQUESTS_CA_BUNDLE``,
``SSL_CERT_FILE`` or ``CURL_CA_BUNDLE``. A URL's version is its ``ETag``, else its
``Last-Modified`` (with the size), else a hash of its body; that version keys the local cache
(``data/cache.py``) and feeds the step's reuse fingerprint.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import shutil
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from airflow_azml.exceptions import DataFetchError

__all__ = ["is_url", "url_version", "fetch_url", "cached_url", "url_label", "CA_BUNDLE_ENVS"]

#: where a CA bundle may be named, first set wins (requests' variable, then OpenSSL's, then curl's)
CA_BUNDLE_ENVS = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
_TIMEOUT = 60.0
_ATTEMPTS = 3


def is_url(value: Any) -> bool:
    """An ``http://`` or ``https://`` URL (what v1 accepted as a web path)."""
    return isinstance(value, str) and value[:8].lower().startswith(("http://", "https://"))


def url_label(url: str) -> str:
    """The URL's path as a dataset shows it (``/demo/Titanic.csv``): to_path, folder layout, partitions."""
    return unquote(urlsplit(url).path) or "/"


def _ca_bundle() -> str | None:
    for name in CA_BUNDLE_ENVS:
        value = os.environ.get(name)
        if value and os.path.exists(value):
            return value
    return None


def _bypass(host: str) -> bool:
    """NO_PROXY as urllib reads it (names, domain suffixes, '*'), plus the CIDR ranges
    (``10.0.0.0/8``) that corporate NO_PROXY lists carry and urllib ignores."""
    if urllib.request.proxy_bypass(host):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    entries = (os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or "").split(",")
    for entry in (e.strip() for e in entries):
        try:
            if "/" in entry and address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _opener(url: str) -> urllib.request.OpenerDirector:
    """Proxies from the environment unless NO_PROXY exempts the host, and the configured CA bundle."""
    context = ssl.create_default_context(cafile=_ca_bundle())
    proxies = urllib.request.ProxyHandler({} if _bypass(urlsplit(url).hostname or "") else None)
    return urllib.request.build_opener(proxies, urllib.request.HTTPSHandler(context=context))


def _route(url: str) -> str:
    proxy = urllib.request.getproxies().get(urlsplit(url).scheme)
    host = urlsplit(url).hostname or ""
    if proxy and not _bypass(host):
        return f" (through the proxy {proxy} from HTTPS_PROXY/HTTP_PROXY)"
    return " (direct: no proxy applies)"


def _explain(url: str, exc: BaseException) -> DataFetchError:
    """One error that names the URL, the route taken and what to set."""
    if isinstance(exc, urllib.error.HTTPError):
        what = f"HTTP {exc.code} {exc.reason}"
    else:
        reason = getattr(exc, "reason", exc)
        what = f"{type(reason).__name__}: {reason}"
    hint = ""
    if "CERTIFICATE_VERIFY_FAILED" in what:
        hint = " Point REQUESTS_CA_BUNDLE or SSL_CERT_FILE at a CA bundle that trusts this server."
    elif "Tunnel connection failed" in what or "ProxyError" in what:
        hint = " The proxy refused the connection; check HTTPS_PROXY and NO_PROXY."
    return DataFetchError(f"Could not fetch {url}: {what}{_route(url)}.{hint}")


def _transient(exc: BaseException) -> bool:
    """Worth another try: not a certificate problem, not a proxy that refused the tunnel."""
    reason = getattr(exc, "reason", exc)
    return not isinstance(reason, ssl.SSLError) and "Tunnel connection failed" not in str(reason)


def _open(url: str, method: str = "GET") -> Any:
    """The response of ``method`` on ``url``; retries connection errors and 5xx, not 4xx."""
    request = urllib.request.Request(url, method=method, headers={"User-Agent": "airflow-azml"})
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return _opener(url).open(request, timeout=_TIMEOUT)
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == _ATTEMPTS:
                raise _explain(url, exc) from exc
        except (urllib.error.URLError, OSError) as exc:
            if attempt == _ATTEMPTS or not _transient(exc):
                raise _explain(url, exc) from exc
        time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


def _validators(headers: Any) -> str | None:
    etag = headers.get("ETag")
    if etag:
        return f"etag:{etag}"
    modified = headers.get("Last-Modified")
    if modified:
        return f"modified:{modified};size:{headers.get('Content-Length', '?')}"
    return None


def url_version(url: str) -> str:
    """A token that changes when the URL's content changes (ETag, Last-Modified, else a body hash)."""
    try:
        with _open(url, "HEAD") as response:
            version = _validators(response.headers)
    except DataFetchError as exc:  # some servers refuse HEAD: ask with GET instead
        if "HTTP 405" not in str(exc) and "HTTP 501" not in str(exc):
            raise
        version = None
    if version is not None:
        return version
    digest = hashlib.sha256()
    with _open(url) as response:
        version = _validators(response.headers)
        if version is not None:
            return version
        for block in iter(lambda: response.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def fetch_url(url: str, dest: Path) -> Path:
    """Download ``url`` to the file ``dest`` (written whole: a temporary file renamed into place)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, _open(url) as response:
            shutil.copyfileobj(response, out, 1 << 20)
        os.replace(tmp, dest)
    except OSError as exc:
        raise _explain(url, exc) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


class _UrlObject:
    """One URL seen as a one-file store, so the worker cache (``cached_copy``) serves URLs too."""

    def __init__(self, url: str):
        self.url = url

    def name(self) -> str:
        base = url_label(self.url).rstrip("/").rsplit("/", 1)[-1]
        return "".join(c if c.isalnum() or c in "._-" else "_" for c in base).lstrip(".") or "data"

    def uri(self, rel: str) -> str:
        return self.url

    def local_path(self, rel: str) -> None:
        return None

    def version(self, rel: str) -> str:
        return url_version(self.url)

    def get(self, rel: str, local: Path, *, overwrite: bool = True) -> Path:
        return fetch_url(self.url, local)


def cached_url(url: str) -> Path:
    """A local, read-only copy of ``url`` at its current version (fetched once per version)."""
    from airflow_azml.data.cache import cached_copy

    obj = _UrlObject(url)
    return cached_copy(obj, obj.name())
