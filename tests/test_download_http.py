"""Retry policy and the stdlib HTTP client against a local server: 429, 5xx, timeouts, 4xx."""

from __future__ import annotations

import random
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest

from bot.errors import DataError, FatalError, RetryableError
from bot.httpclient import NotFoundError, get_with_retry, http_get, parse_retry_after
from bot.retry import RateLimitedError, RetryPolicy, call_with_retry
from tests.fakes.http_server import FakeHttpServer, Reply, fake_http  # noqa: F401 (fixture)

FAST = RetryPolicy(attempts=3, initial_s=0.01, max_s=0.02, retry_after_max_s=5.0)


class Sleeps(list):
    """Records the delays a retry loop asked for, without waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.mark.parametrize("retry", [1, 2, 3, 6, 10])
def test_backoff_doubles_with_bounded_jitter(retry: int) -> None:
    policy = RetryPolicy(initial_s=0.5, max_s=8.0)
    base = min(8.0, 0.5 * 2 ** (retry - 1))
    delays = [policy.delay(retry, rng=random.Random(seed)) for seed in range(50)]
    assert all(base * 0.5 <= d <= base for d in delays)
    assert RetryPolicy(initial_s=0.5, max_s=8.0, jitter=False).delay(retry) == base


def test_retry_after_is_honoured_up_to_its_cap() -> None:
    policy = RetryPolicy(initial_s=0.1, max_s=1.0, retry_after_max_s=30.0, jitter=False)
    assert policy.delay(1, retry_after=12.0) == 12.0
    assert policy.delay(1, retry_after=0.0) == 0.1


def test_call_with_retry_succeeds_after_transient_errors() -> None:
    sleeps = Sleeps()
    outcomes = iter([RetryableError("blip"), RateLimitedError("429", retry_after=2.0), "ok"])

    def fn() -> str:
        item = next(outcomes)
        if isinstance(item, Exception):
            raise item
        return item

    assert call_with_retry(fn, FAST, what="t", sleep=sleeps) == "ok"
    assert len(sleeps) == 2 and sleeps[1] == 2.0


def test_call_with_retry_gives_up_with_the_cause() -> None:
    sleeps = Sleeps()

    def fn() -> None:
        raise RetryableError("connection reset")

    with pytest.raises(RetryableError, match=r"t: gave up after 3 attempts: connection reset"):
        call_with_retry(fn, FAST, what="t", sleep=sleeps)
    assert len(sleeps) == 2


def test_call_with_retry_refuses_a_retry_after_beyond_the_cap() -> None:
    sleeps = Sleeps()

    def fn() -> None:
        raise RateLimitedError("429", retry_after=3600.0)

    with pytest.raises(RetryableError, match="retry after 3600 s, more than the 5 s allowed"):
        call_with_retry(fn, FAST, what="t", sleep=sleeps)
    assert sleeps == []


def test_other_errors_are_not_retried() -> None:
    calls = []

    def fn() -> None:
        calls.append(1)
        raise DataError("bad")

    with pytest.raises(DataError):
        call_with_retry(fn, FAST, what="t", sleep=Sleeps())
    assert calls == [1]


@pytest.mark.parametrize("value, expected", [("7", 7.0), ("0.25", 0.25), ("", None), (None, None), ("soon", None)])
def test_parse_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(header, now=now.timestamp()) == pytest.approx(30.0)


@pytest.mark.parametrize("reply, error, text", [
    (Reply(status=429, body="slow down", headers={"Retry-After": "3"}), RateLimitedError, "rate limited"),
    (Reply(status=503, body="busy"), RetryableError, "server error (HTTP 503"),
    (Reply(status=401, body="no"), FatalError, "API key was rejected"),
    (Reply(status=404, body="nope"), NotFoundError, "not found"),
    (Reply(status=400, body={"msg": "bad param"}), DataError, "request refused (HTTP 400"),
])
def test_http_get_maps_status_codes(fake_http: FakeHttpServer, reply: Reply, error: type, text: str) -> None:
    fake_http.route("/x", reply)
    with pytest.raises(error, match=text.replace("(", r"\(")) as info:
        http_get(fake_http.url + "/x", timeout_s=2.0, what="GET /x")
    if isinstance(info.value, RateLimitedError):
        assert info.value.retry_after == 3.0


def test_http_get_times_out_against_a_slow_server(fake_http: FakeHttpServer) -> None:
    fake_http.route("/slow", Reply(body="late", delay_s=2.0))
    with pytest.raises(RetryableError, match="timed out after 0.5 s"):
        http_get(fake_http.url + "/slow", timeout_s=0.5, what="GET /slow")


def test_get_with_retry_rides_out_429_and_timeout(fake_http: FakeHttpServer) -> None:
    fake_http.route("/data", Reply(body=b"payload"))
    fake_http.script("/data", Reply(status=429, headers={"Retry-After": "1.5"}), Reply(body="late", delay_s=2.0))
    sleeps = Sleeps()
    body = get_with_retry(fake_http.url + "/data", timeout_s=0.5, policy=FAST, what="GET /data", sleep=sleeps)
    assert body == b"payload"
    assert len(fake_http.hits("/data")) == 3
    assert sleeps[0] == 1.5  # the server's Retry-After, longer than the backoff


def test_get_with_retry_gives_up_on_a_server_that_stays_down(fake_http: FakeHttpServer) -> None:
    fake_http.route("/down", Reply(status=502, body="bad gateway"))
    with pytest.raises(RetryableError, match="gave up after 3 attempts"):
        get_with_retry(fake_http.url + "/down", timeout_s=0.5, policy=FAST, what="GET /down", sleep=Sleeps())
    assert len(fake_http.hits("/down")) == 3


def test_connection_refused_is_retryable() -> None:
    server = FakeHttpServer().start()
    url = server.url
    server.stop()
    with pytest.raises(RetryableError, match="connection failed"):
        http_get(url + "/x", timeout_s=0.5, what="GET /x")
