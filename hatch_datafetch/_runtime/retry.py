"""One retry policy for every transfer.

:class:`RetryPolicy` is the only place that decides what a failure means (like urllib3's
``Retry``): which HTTP statuses and network errors are retried, how long to back off
(capped exponential with jitter), how long a server's ``Retry-After`` may ask for, and which
hosts are down (refused, unreachable, unknown: skipped for :data:`DEAD_FOR` seconds in favour
of the next mirror). :class:`Cancel` is how every worker, sleep and lock wait learns of Ctrl-C.
"""

from __future__ import annotations

import errno

from .errors import Fatal, Retry
from .fs import Cancel

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from typing import Any

#: HTTP statuses worth retrying (with 5xx).
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
DEAD_FOR = 120.0  # seconds a host that failed to connect is skipped for other URLs
#: (host, port) -> (since, why): hosts that refused or timed out, for this process.
DEAD_HOSTS: dict[tuple[str, int], tuple[float, str]] = {}
_UNREACHABLE = frozenset(
    getattr(errno, n) for n in ("ENETUNREACH", "EHOSTUNREACH", "EHOSTDOWN") if hasattr(errno, n)
)


class RetryPolicy:
    """What is retried and how long to wait: ``retries`` per URL (and per range), backoff
    from ``backoff`` s doubling up to ``max_backoff`` with jitter, a server's ``Retry-After``
    honoured up to ``max_retry_after`` s (longer: the URL fails with that figure)."""

    def __init__(
        self,
        retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        max_retry_after: float = 120.0,
    ) -> None:
        self.retries, self.backoff = retries, backoff
        self.max_backoff, self.max_retry_after = max_backoff, max_retry_after

    def delay(self, attempt: int, error: Retry) -> float | None:
        """Seconds to wait before retry number ``attempt`` (1, 2, ...) after ``error``, or
        None when the retries are used up."""
        if attempt > self.retries:
            return None
        import random

        backoff = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        delay: float = backoff * (0.5 + random.random() / 2)
        return delay if error.wait is None else max(delay, error.wait)

    def run(
        self,
        attempt: Callable[[], None],
        cancel: Cancel,
        heartbeat: Callable[[], None],
        stop: Callable[[], bool] | None = None,
    ) -> None:
        """Call ``attempt`` until it returns, backing off after each :class:`Retry`; the
        last one is raised when the retries are used up (or ``stop()`` says so)."""
        n = 0
        while True:
            try:
                attempt()
                return
            except Retry as e:
                n += 1
                delay = self.delay(n, e)
                if delay is None or (stop is not None and stop()):
                    raise
            cancel.sleep(delay, heartbeat)

    def status_error(self, status: int, reason: str, retry_after: str | None) -> Exception:
        """The failure an HTTP error status means: 5xx, 408, 425 and 429 are retried
        (honouring ``Retry-After`` up to :attr:`max_retry_after`), other 4xx are final."""
        what = f"HTTP {status} {reason}".rstrip()
        if status not in RETRY_STATUS and status < 500:
            return Fatal(what)
        wait = retry_after_seconds(retry_after)
        if wait is not None and wait > self.max_retry_after:
            return Fatal(
                f"{what}; the server asks to retry after {wait:.0f} s, longer than the "
                f"{self.max_retry_after:g} s this locator waits"
            )
        return Retry(what, wait)

    def raise_for_status(self, resp: Any) -> None:
        if resp.status >= 400:
            raise self.status_error(resp.status, resp.reason, resp.getheader("Retry-After"))


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds of a ``Retry-After`` header (delta-seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        import time
        from email.utils import parsedate_to_datetime

        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def describe_error(e: BaseException, timeout: float) -> str:
    import socket

    if isinstance(e, socket.timeout) or "timed out" in str(e):
        return f"no data for {timeout:g} s"
    return f"{type(e).__name__}: {e}"


def connect_error(e: OSError, target: tuple[str, int], timeout: float, last: bool) -> Exception:
    """What a failed connect means: a refused, unreachable or unknown host is down (not
    retried, remembered so other files skip it); a timeout or reset is retried on the last
    URL; anything else (a proxy refusing the tunnel) is final for this URL."""
    import socket
    import time

    why = describe_error(e, timeout)
    message = f"cannot connect to {target[0]}:{target[1]}: {why}"
    transient = isinstance(e, (ConnectionResetError, TimeoutError, socket.timeout))
    if transient or isinstance(e, (ConnectionError, socket.gaierror)) or e.errno in _UNREACHABLE:
        DEAD_HOSTS[target] = (time.monotonic(), why)
        return (Retry if transient and last else Fatal)(message)
    return Fatal(message)


def host_down(target: tuple[str, int]) -> tuple[float, str] | None:
    """(seconds since, why) when ``target`` failed to connect less than DEAD_FOR s ago."""
    import time

    down = DEAD_HOSTS.get(target)
    if down is None:
        return None
    age = time.monotonic() - down[0]
    return (age, down[1]) if age < DEAD_FOR else None
