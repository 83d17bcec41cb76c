"""The one retry policy of the stores, named.

Two kinds of repeat, and no others:
- TRANSIENT: network failures, 408, 429 and 5xx are retried with jittered
  exponential backoff until a deadline (the explicit set in is_retryable).
- after_lost_races: a create-only write that lost a race to another writer
  reads the object again and decides anew, a bounded number of times.
"""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from lake.errors import LakeError

T = TypeVar("T")
RACE_ROUNDS = 3  # a second round only if the object changed under us; a third is already a busy key


@dataclass(frozen=True)
class RetryPolicy:
    """Jittered exponential backoff (google.api_core's) from `initial` to `maximum` seconds."""

    initial: float = 0.25
    maximum: float = 8.0
    multiplier: float = 2.0

    def google_retry(self, deadline_at: float):
        """A google.api_core Retry for the time left until deadline_at (time.monotonic())."""
        from google.api_core.exceptions import RetryError
        from google.api_core.retry import Retry

        remaining = deadline_at - time.monotonic()
        if remaining <= 0:  # the store's error handler names the object and the deadline
            raise RetryError("no time left for another request", None)
        return Retry(
            predicate=is_retryable, initial=self.initial, maximum=self.maximum, multiplier=self.multiplier, timeout=remaining
        )


TRANSIENT = RetryPolicy()


def after_lost_races(attempt: Callable[[], "T | None"], give_up: Callable[[], LakeError]) -> T:
    """attempt() until it returns a value; None means another writer changed the object meanwhile."""
    for _ in range(RACE_ROUNDS):
        result = attempt()
        if result is not None:
            return result
    raise give_up()


_RETRYABLE_STATUS = {
    http.client.REQUEST_TIMEOUT,
    http.client.TOO_MANY_REQUESTS,
    http.client.INTERNAL_SERVER_ERROR,
    http.client.BAD_GATEWAY,
    http.client.SERVICE_UNAVAILABLE,
    http.client.GATEWAY_TIMEOUT,
}


def is_retryable(exc: BaseException) -> bool:
    """The explicit set of errors worth retrying: network failures, 408, 429 and 5xx."""
    import requests
    import urllib3
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth
    from google.cloud.storage.exceptions import InvalidResponse

    if isinstance(
        exc,
        (
            ConnectionError,  # includes ConnectionRefused/Reset while the service restarts
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
            http.client.HTTPException,  # BadStatusLine, IncompleteRead, ...
            urllib3.exceptions.ProtocolError,
            urllib3.exceptions.TimeoutError,
            urllib3.exceptions.PoolError,
        ),
    ):
        return True
    if isinstance(exc, api.GoogleAPICallError):
        return exc.code in _RETRYABLE_STATUS
    if isinstance(exc, InvalidResponse):
        return exc.response.status_code in _RETRYABLE_STATUS
    if isinstance(exc, auth.TransportError):  # token refresh over a broken network
        return bool(exc.args) and isinstance(exc.args[0], BaseException) and is_retryable(exc.args[0])
    return False
