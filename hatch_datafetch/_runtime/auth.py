"""Credentials for private data (SPEC §14): netrc, the data token, token challenges.

:class:`Auth` gives each request its ``Authorization`` header (:meth:`Auth.header`):

* what a 401 from the URL's origin was answered with (below), from then on; else
* the data token, the value of the ``token-env-var`` (``<PACKAGE>_DATA_TOKEN``), as
  ``Bearer``, only to the origins (scheme, host, port) of the base URL, the URL env var and
  the mirrors; else nothing.

A 401 is answered (:meth:`Auth.answer`): a ``Basic`` challenge (or none) with the
credentials of the URL's host in netrc (``$NETRC``, else ``~/.netrc``; ``machine`` entries
only: the ``default`` entry is never sent anywhere); a ``Bearer realm=...,service=...,
scope=...`` challenge by the token flow of the OCI distribution spec: a GET of the realm,
with the netrc credentials of the realm's host, else of the URL's host when the realm is
https or on that host, else anonymous, whose token then goes to that origin. netrc
credentials are sent only when asked for (as pip does), so a stale netrc entry never breaks
a public download. The client never sends any of these on a hop of a redirect to another
origin (a registry's storage, another CDN), and no message carries them: failures name
where the credentials came from, never their value, and :meth:`Auth.redact` masks every
secret that passed through here.
"""

from __future__ import annotations

import os

from .errors import Denied, Fatal, Retry, warn

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable, Mapping
    from typing import Any

    from .config import RuntimeConfig

TOKEN_BODY_MAX = 1 << 20  # a token service's answer is read up to this size


def origin_of(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` a URL's requests go to (an ``oci://`` URL's registry), or
    None for other schemes and malformed URLs."""
    if url.startswith("oci"):
        from .oci import is_oci, origin

        return origin(url) if is_oci(url) else None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return parts.scheme, parts.hostname.lower(), port


def basic(login: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


def challenges(values: Iterable[str]) -> dict[str, dict[str, str]]:
    """The challenges of ``WWW-Authenticate`` header values: scheme (lower case) ->
    parameters, e.g. ``{"bearer": {"realm": "https://...", "service": "...", "scope":
    "repository:org/data:pull"}}``."""
    import re

    out: dict[str, dict[str, str]] = {}
    pair = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')
    for value in values:
        rest = value.strip()
        while rest:
            m = re.match(r"([A-Za-z0-9_.-]+)(?:\s+|$)", rest)
            if m is None:
                break
            params: dict[str, str] = {}
            rest = rest[m.end() :]
            while True:
                p = pair.match(rest)
                if p is None:
                    break
                text = p[2]
                if text.startswith('"'):
                    text = re.sub(r"\\(.)", r"\1", text[1:-1])
                params[p[1].lower()] = text
                rest = rest[p.end() :]
            out.setdefault(m[1].lower(), params)
            rest = rest.lstrip(", ")
    return out


class Auth:
    """The credentials of one locator or push (see the module docstring)."""

    def __init__(
        self,
        environ: Mapping[str, str],
        token_var: str | None = None,
        token_urls: Iterable[str] = (),
    ) -> None:
        import _thread

        self.environ, self.token_var = environ, token_var
        self.token = (environ.get(token_var) or "").strip() if token_var else ""
        self.token_origins = {o for o in map(origin_of, token_urls) if o is not None}
        self.secrets: set[str] = {self.token} if self.token else set()
        self._netrc: dict[str, tuple[str, str]] | None = None
        self.netrc_path = ""
        self._granted: dict[tuple[str, str, int], str] = {}  # origin -> header a 401 led to
        self._why: dict[str, str] = {}  # header -> where it came from (never the secret)
        self._lock = _thread.allocate_lock()

    @classmethod
    def for_config(cls, config: RuntimeConfig, environ: Mapping[str, str]) -> Auth:
        """The credentials of a locator: its token goes to its base URLs' origins."""
        override = environ.get(config.url_env_var) if config.url_env_var else None
        urls = [u for u in (override, config.base_url, *config.mirrors) if u]
        return cls(environ, config.token_env_var, urls)

    # ------------------------------------------------------------------ headers

    def header(self, url: str) -> str | None:
        """The ``Authorization`` value for a request to ``url``, or None."""
        key = origin_of(url)
        if key is None:
            return None
        granted = self._granted.get(key)
        if granted is not None:
            return granted
        if self.token and key in self.token_origins:
            self._why.setdefault(f"Bearer {self.token}", f"the token in ${self.token_var}")
            return f"Bearer {self.token}"
        return None

    def _netrc_header(self, host: str) -> str | None:
        creds = self.netrc(host)
        if creds is None:
            return None
        value = basic(*creds)
        self.secrets.add(value.split()[1])
        self._why.setdefault(value, f"the credentials of machine {host} in {self.netrc_path}")
        return value

    def netrc(self, host: str | None) -> tuple[str, str] | None:
        """(login, password) of ``host`` in the netrc file, or None."""
        if self._netrc is None:
            self._netrc = self._load_netrc()
        return self._netrc.get((host or "").lower())

    def _load_netrc(self) -> dict[str, tuple[str, str]]:
        path = self.environ.get("NETRC") or ""
        if not path:
            home = self.environ.get("HOME") or os.path.expanduser("~")
            path = os.path.join(home, ".netrc")
            if os.name == "nt" and not os.path.isfile(path):
                path = os.path.join(home, "_netrc")
        self.netrc_path = path
        if not os.path.isfile(path):
            return {}
        import netrc

        try:
            hosts = netrc.netrc(path).hosts
        except netrc.NetrcParseError as e:
            warn(f"ignoring {path}: it cannot be read as a netrc file (line {e.lineno})")
            return {}
        except (OSError, UnicodeDecodeError) as e:
            warn(f"ignoring {path}: {getattr(e, 'strerror', None) or type(e).__name__}")
            return {}
        out = {}
        for host, (login, _account, password) in hosts.items():
            out[host.lower()] = (login or "", password or "")
            if password:
                self.secrets.add(password)
        return out

    # ------------------------------------------------------------------ challenges

    def answer(self, client: Any, url: str, sent: str | None, values: list[str]) -> None:
        """Answer a 401 to a request to ``url`` that carried ``sent``, whose
        ``WWW-Authenticate`` headers are ``values``: afterwards :meth:`header` gives what to
        send again. A :class:`Fatal` error (:meth:`refused`) when there is nothing better
        to send; :class:`Retry` when the token service could not be reached."""
        key = origin_of(url)
        if key is None:
            raise Denied(self.refused(url, sent, values))
        with self._lock:
            if self.header(url) != sent:  # another worker answered it meanwhile
                return
            found = challenges(values)
            bearer = found.get("bearer")
            if bearer is not None and bearer.get("realm", "").startswith(("https:", "http:")):
                token = self._token(client, url, key, bearer)
                value = f"Bearer {token}"
                if value == sent:
                    raise Denied(self.refused(url, sent, values))
                self._granted[key] = value
                return
            creds = self._netrc_header(key[1])
            if creds is not None and creds != sent and (not found or "basic" in found):
                self._granted[key] = creds
                return
        raise Denied(self.refused(url, sent, values))

    def _token(
        self, client: Any, url: str, key: tuple[str, str, int], params: dict[str, str]
    ) -> str:
        """A token from the realm of a Bearer challenge (the distribution spec's token
        flow), asked with netrc credentials when there are any for it."""
        import http.client
        import json
        from urllib.parse import urlencode, urlsplit

        from .retry import describe_error

        realm = params["realm"]
        query = urlencode({k: params[k] for k in ("service", "scope") if params.get(k)})
        target = f"{realm}{'&' if '?' in realm else '?'}{query}" if query else realm
        headers = {"User-Agent": client.user_agent, "Accept": "application/json"}
        realm_host = (urlsplit(realm).hostname or "").lower()
        creds = self._netrc_header(realm_host)
        if creds is None and (realm.startswith("https:") or realm_host == key[1]):
            creds = self._netrc_header(key[1])
        asked = "anonymously"
        if creds is not None:
            headers["Authorization"] = creds
            asked = f"with {self._why[creds]}"
        try:
            conn, resp = client.request(target, headers)
        except (OSError, http.client.HTTPException) as e:
            raise Retry(f"token service {realm}: {describe_error(e, client.timeout)}") from None
        try:
            status = resp.status
            body = resp.read(TOKEN_BODY_MAX) if status == 200 else b""
            client.finish(conn, resp)
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise Retry(f"token service {realm}: {describe_error(e, client.timeout)}") from None
        what = f"the token service {realm} (asked {asked})"
        if status in (401, 403):
            hint = (
                ""
                if creds
                else (
                    f"; for a private repository, put credentials in {self.netrc_path} as "
                    f"`machine {realm_host} login USER password PASSWORD`"
                )
            )
            raise Fatal(f"HTTP {status} {resp.reason} from {what}{hint}")
        if status != 200:
            error = Retry if status >= 500 or status == 429 else Fatal
            raise error(f"HTTP {status} {resp.reason} from {what}")
        try:
            data = json.loads(body)
            token = data.get("token") or data.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token.strip():
            raise Fatal(f"{what} answered without a token")
        self.secrets.add(token)
        self._why.setdefault(f"Bearer {token}", f"the token from {what}")
        return token

    def refused(self, url: str, sent: str | None, values: list[str]) -> str:
        """What a 401 means, and what to do; names where credentials came from, never them."""
        key = origin_of(url)
        host = key[1] if key else url
        if sent is not None:
            return f"HTTP 401 Unauthorized: {host} refused {self._why.get(sent, 'the credentials')}"
        scheme = ", ".join(sorted(challenges(values))) or "no"
        self.netrc(None)  # (finds the file's path)
        lines = f"put them in {self.netrc_path} as `machine {host} login USER password PASSWORD`"
        if self.token_var and key in self.token_origins:
            lines += f", or set {self.token_var} to a token"
        return f"HTTP 401 Unauthorized: {host} asks for credentials ({scheme} challenge); {lines}"

    def redact(self, text: str) -> str:
        """``text`` with every secret that passed through here masked."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text
