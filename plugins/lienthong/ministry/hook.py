"""Client for the Ministry of Public Security population API (SOURCES.md §1).

`MinistryPopulationHook` walks ``GET /v1/citizens`` page by page, following
``next_cursor``. It is written against the contract, not against our demo
server: every failure the contract lists as transient (429 with Retry-After,
500/502/503/504, hanging or dropped connections, truncated pages) is retried
on the same cursor with capped, jittered exponential backoff; 401 and 400 are
raised at once.

The bearer token is the connection's password. It never appears in a log
line or an exception message: errors name the connection id instead.
"""

from __future__ import annotations

import dataclasses
import email.utils
import logging
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import requests
import tenacity
from airflow.providers.http.hooks.http import HttpHook
from requests.auth import AuthBase

from lienthong.ministry.page import (
    CitizenPage,
    PageNotJson,
    PageShapeError,
    excerpt,
    parse_page,
    read_envelope,
)

log = logging.getLogger(__name__)

CITIZENS_ENDPOINT = "/v1/citizens"
MAX_PAGE_SIZE = 5000
# Statuses the contract (plus the usual gateway timeout) calls transient.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class MinistryError(Exception):
    """Base class of every error raised by the Ministry population client."""


class MinistryAuthError(MinistryError):
    """The API refused the bearer token (401), or the connection holds none."""


class MinistryRequestError(MinistryError):
    """The API rejected the query (400) or answered with a status the contract does not know.

    Attributes:
        status: the HTTP status received.
        error: the server's ``error`` text (or a short excerpt of its body).
        params: the query parameters sent (never containing the token).
    """

    def __init__(self, message: str, *, status: int, error: str, params: dict[str, str]) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.params = params


class MinistryContractError(MinistryError):
    """The API broke the contract: a page of the wrong shape, ``total`` changing within one
    walk, a cursor seen before in the walk, or more items than ``total`` announced."""


class MinistryTransientError(MinistryError):
    """One attempt failed in a way worth retrying on the same cursor.

    Attributes:
        reason: short description ("HTTP 503", "read timeout", "truncated page", ...).
        status: the HTTP status, when an answer arrived.
        retry_after: seconds the server asked us to wait (429), when given.
    """

    def __init__(
        self, reason: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class MinistryUnavailableError(MinistryError):
    """Every attempt at one page failed with a transient error.

    Attributes:
        attempts: how many attempts were made.
        last_error: the transient error of the last attempt.
    """

    def __init__(self, message: str, *, attempts: int, last_error: MinistryTransientError) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last_error = last_error


class BearerTokenAuth(AuthBase):
    """``Authorization: Bearer <token>``, with a repr that does not show the token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerTokenAuth(<hidden>)"


def format_rfc3339_utc(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339 in UTC with a ``Z`` suffix.

    Microseconds are kept only when present, so whole seconds read as
    ``2026-11-20T08:15:00Z``. Naive datetimes are refused: their zone is a guess.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"datetime must be timezone-aware, got naive {moment!r}")
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return text + "Z"


def _http_date(value: str | None) -> datetime | None:
    """An HTTP ``Date`` header as an aware datetime, or None."""
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _error_text(response: requests.Response) -> str:
    """The ``error`` field of a JSON error body, else a short excerpt of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    return response.text[:200]


class MinistryPopulationHook(HttpHook):
    """Read the national population database through ``GET /v1/citizens``.

    The Airflow connection (default ``ministry_population``, type http) gives
    the base URL through host/port/schema (host may carry its own scheme) and
    the bearer token as its password. HttpHook provides the connection lookup,
    base URL and a keep-alive ``requests`` session; this class adds bearer
    auth, the page walk and the retry policy.

    Args:
        ministry_conn_id: Airflow connection id.
        page_size: ``limit`` sent with each request, 1 to 5000.
        max_attempts: attempts per page (first try included) before giving up.
        backoff_base: first backoff in seconds; doubles each retry, plus jitter.
        backoff_max: cap on any single wait, Retry-After included.
        timeout: seconds for connecting and for each socket read; a server that
            hangs mid-answer fails the attempt after this long.
    """

    conn_name_attr = "ministry_conn_id"
    default_conn_name = "ministry_population"
    conn_type = "http"
    hook_name = "Ministry population API"

    def __init__(
        self,
        ministry_conn_id: str = default_conn_name,
        *,
        page_size: int = 1000,
        max_attempts: int = 8,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_max: float = 600.0,
        timeout: float = 30.0,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1 to {MAX_PAGE_SIZE}, got {page_size}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        if backoff_base < 0 or backoff_max < 0 or retry_after_max < 0 or timeout <= 0:
            raise ValueError(
                "backoff_base, backoff_max and retry_after_max must be >= 0 and timeout > 0"
            )
        super().__init__(method="GET", http_conn_id=ministry_conn_id)
        self.ministry_conn_id = ministry_conn_id
        self.page_size = page_size
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        # The server's own Retry-After is honoured well past our backoff cap (the contract says
        # wait and retry); the cap only guards against a server asking for hours.
        self.retry_after_max = retry_after_max
        self.timeout = timeout

    def _set_base_url(self, connection: Any) -> None:
        """HttpHook's base URL, but over TLS for a connection given as ``https://…``.

        In URI form the scheme is the connection's type, and HttpHook takes the scheme from
        the schema field alone (``http`` when empty): ``https://:token@host`` would send the
        bearer token in clear to ``http://host``."""
        super()._set_base_url(connection)
        if (
            connection.conn_type == "https"
            and not connection.schema
            and self.base_url.startswith("http://")
        ):
            self.base_url = "https://" + self.base_url.removeprefix("http://")

    # HttpHook would use Basic auth from login/password; the contract wants a bearer token.
    def _configure_session_from_auth(self, session: requests.Session, connection: Any) -> Any:
        if not connection.password:
            raise MinistryAuthError(
                f"connection {self.ministry_conn_id!r} has no password (the API bearer token)"
            )
        session.auth = BearerTokenAuth(connection.password)
        return session

    def iter_pages(
        self,
        *,
        updated_since: datetime | None = None,
        updated_before: datetime | None = None,
        province_code: str | None = None,
        defer_items: bool = False,
        past_total: Callable[[CitizenPage, int, str], None] | None = None,
    ) -> Iterator[CitizenPage]:
        """Walk every page of one query, following next_cursor.

        ``total`` is fixed for one walk, but the contract does not promise that the items are
        a snapshot: a server paging a live table by (``updated_at``, ``personal_id``) sends
        records written while the walk runs after those it counted. Items past the announced
        total are a contract break unless ``past_total`` accepts them, and more of them than
        the total itself (or a page) always are: such a walk might never end.

        Args:
            updated_since: inclusive lower bound on ``updated_at`` (timezone-aware).
            updated_before: exclusive upper bound on ``updated_at`` (timezone-aware).
            province_code: current 2-digit code of the permanent address.
            defer_items: leave a page's items encoded where the page can be read without
                decoding them (`lienthong.ministry.page.read_envelope`), for whoever prepares
                them to decode.
            past_total: called with a page that brings the items received past the total,
                how many are past it, and where the page is (for messages); returns when they
                may be read (records written while the walk ran), raises
                `MinistryContractError` when not. None: none may be.

        Yields:
            Each page in order; the last one has ``next_cursor`` None.

        Raises:
            MinistryAuthError: 401, at once.
            MinistryRequestError: 400 (with the server's error text and the
                parameters sent) or a status outside the contract, at once.
            MinistryUnavailableError: a page still failed after ``max_attempts``.
            MinistryContractError: ``total`` changed between pages, the
                cursor did not advance, or items came past the total announced that
                ``past_total`` does not accept.
        """
        base_params: dict[str, str] = {"limit": str(self.page_size)}
        if updated_since is not None:
            base_params["updated_since"] = format_rfc3339_utc(updated_since)
        if updated_before is not None:
            base_params["updated_before"] = format_rfc3339_utc(updated_before)
        if province_code is not None:
            base_params["province_code"] = province_code

        session = self.get_conn()
        url = self.url_from_endpoint(CITIZENS_ENDPOINT)
        try:
            cursor: str | None = None
            first_total: int | None = None
            seen_cursors: set[str] = set()
            pages = received = 0
            while True:
                params = dict(base_params)
                if cursor is not None:
                    params["cursor"] = cursor
                page = self._fetch_with_retries(session, url, params, defer_items=defer_items)
                pages += 1
                received += len(page.items)
                where = f"connection {self.ministry_conn_id!r}, page {pages} (cursor {cursor!r})"
                if first_total is None:
                    first_total = page.total
                elif page.total != first_total:
                    raise MinistryContractError(
                        f"{where}: total changed within one walk from {first_total} to {page.total}"
                    )
                if received > first_total:
                    # A server that never stops would otherwise be walked forever.
                    if past_total is None or received - first_total > max(
                        first_total, self.page_size
                    ):
                        raise MinistryContractError(
                            f"{where}: {received} items received, more than the total of "
                            f"{first_total} the walk announced"
                        )
                    past_total(page, received - first_total, where)
                if page.next_cursor is not None:
                    if page.next_cursor == cursor or page.next_cursor in seen_cursors:
                        raise MinistryContractError(
                            f"{where}: next_cursor {page.next_cursor!r} was already seen in this "
                            "walk (the walk would never end)"
                        )
                    seen_cursors.add(page.next_cursor)
                yield page
                if page.next_cursor is None:
                    return
                cursor = page.next_cursor
        finally:
            session.close()

    def test_connection(self) -> tuple[bool, str]:
        """Fetch one single-item page, without retries, to check the URL and the token."""
        try:
            session = self.get_conn()
        except MinistryError as exc:
            return False, str(exc)
        try:
            page = self._fetch_once(
                session, self.url_from_endpoint(CITIZENS_ENDPOINT), {"limit": "1"}
            )
        except MinistryError as exc:
            return False, str(exc)
        finally:
            session.close()
        return True, f"Connection successfully tested ({page.total} citizens)"

    def _wait_seconds(self, retry_state: tenacity.RetryCallState) -> float:
        """Retry-After when the server sent one (up to ``retry_after_max``), else exponential
        backoff with jitter (up to ``backoff_max``)."""
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, MinistryTransientError) and error.retry_after is not None:
            return min(error.retry_after, self.retry_after_max)
        backoff = tenacity.wait_exponential_jitter(
            initial=self.backoff_base, max=self.backoff_max, jitter=self.backoff_base
        )
        return min(backoff(retry_state), self.backoff_max)

    def _log_retry(self, retry_state: tenacity.RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        log.warning(
            "Ministry API %r: attempt %d/%d failed (%s, status %s); retrying same cursor in %.2fs",
            self.ministry_conn_id,
            retry_state.attempt_number,
            self.max_attempts,
            getattr(error, "reason", error),
            getattr(error, "status", None),
            wait,
        )

    def _fetch_with_retries(
        self,
        session: requests.Session,
        url: str,
        params: dict[str, str],
        *,
        defer_items: bool = False,
    ) -> CitizenPage:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(MinistryTransientError),
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait_seconds,
            before_sleep=self._log_retry,
        )
        try:
            return retrying(self._fetch_once, session, url, params, defer_items=defer_items)
        except tenacity.RetryError as exhausted:
            last = exhausted.last_attempt.exception()
            assert isinstance(last, MinistryTransientError)
            raise MinistryUnavailableError(
                f"connection {self.ministry_conn_id!r}: {self.max_attempts} attempts at "
                f"{CITIZENS_ENDPOINT} failed, last: {last.reason} (params {params})",
                attempts=self.max_attempts,
                last_error=last,
            ) from last

    def _page(
        self, response: requests.Response, params: dict[str, str], *, defer_items: bool = False
    ) -> CitizenPage:
        """A 200 answer as a page: not JSON at all is worth a retry (a proxy's error page, a
        cut connection); JSON of the wrong shape is a contract break, raised at once."""
        try:
            page = read_envelope(response.content) if defer_items else None
            if page is None:
                page = parse_page(response.content)
        except PageNotJson as exc:
            raise MinistryTransientError(
                f"page at cursor {params.get('cursor')!r} is not a JSON page: {exc}; "
                f"{response.headers.get('Content-Type', 'no content type')}, "
                f"{len(response.content)} bytes: {excerpt(response.content)}",
                status=200,
            ) from exc
        except PageShapeError as exc:
            raise MinistryContractError(
                f"connection {self.ministry_conn_id!r}: page at cursor {params.get('cursor')!r} "
                f"breaks the contract: {exc}; body starts {excerpt(response.content)}"
            ) from exc
        return dataclasses.replace(page, served_at=_http_date(response.headers.get("Date")))

    def _fetch_once(
        self,
        session: requests.Session,
        url: str,
        params: dict[str, str],
        *,
        defer_items: bool = False,
    ) -> CitizenPage:
        """One GET; classify the outcome as a page, a transient error or a final error."""
        try:
            response = session.get(
                url, params=params, timeout=(self.timeout, self.timeout), allow_redirects=False
            )
        except requests.exceptions.Timeout as exc:
            raise MinistryTransientError(f"timeout ({type(exc).__name__})") from exc
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            # ConnectionError also covers a read timeout hit while reading the body.
            raise MinistryTransientError(f"connection failed ({type(exc).__name__})") from exc

        status = response.status_code
        if status == 200:
            return self._page(response, params, defer_items=defer_items)
        if status == 401:
            raise MinistryAuthError(
                f"connection {self.ministry_conn_id!r}: the population API refused the bearer "
                "token (401); check the connection's password"
            )
        if status in RETRYABLE_STATUSES:
            retry_after = None
            if status == 429:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise MinistryTransientError(f"HTTP {status}", status=status, retry_after=retry_after)
        error = _error_text(response)
        if status == 400:
            message = f"connection {self.ministry_conn_id!r}: bad request (400): {error!r}"
        else:
            message = f"connection {self.ministry_conn_id!r}: unexpected HTTP {status}: {error!r}"
        raise MinistryRequestError(
            f"{message}; params sent {params}", status=status, error=error, params=params
        )
