"""Every metric of the platform, defined once, and the one-line functions the code calls.

Call sites say what happened (`metrics.billing_set_aside()`, `metrics.ledger_postings(kinds)`);
this module knows how it is counted. Nothing here raises into the caller's work: a metric that
cannot be recorded is never a reason for a charge or a request to fail.

Many processes, one `/metrics`
------------------------------
With `PROMETHEUS_MULTIPROC_DIR` set (before any process starts; `make run`, `make worker`,
`make beat`, `make chaos` and the k8s manifests set it), prometheus-client keeps each
process's figures in memory-mapped files in that folder, and `render()` adds up the files of
every process: the daphne serving `/metrics` shows what a Celery worker billed. Without it (the
tests, a single process) the figures are the process's own.

* counters and histograms add up over processes, the dead ones included (a killed worker's
  charges still happened);
* `consult_ws_connections` counts live processes only (`livesum`); a process killed without
  its exit hook is noticed by its pid at the next scrape and dropped;
* gauges of the last run of something (reconcile_ledger, the last tick) keep the most recent
  or the highest value, whichever process wrote it.

Figures about the database (active consultations, the billing lag, pending refunds) are read
from it when `/metrics` is scraped, so they are right even when no tick runs: a stopped clock
shows as a lag that grows. Every process that serves `/metrics` reports them; take `max()`
across instances.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

logger = logging.getLogger(__name__)

# `*_created` series double the output and no alert or panel reads them.
disable_created_metrics()

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CHANNELS = ("chat", "voice", "video")
_HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

# --- The metrics ---------------------------------------------------------------------------------

BILLING_TICK_DURATION = Histogram(
    "consult_billing_tick_duration_seconds",
    "Time one billing tick took (every batch of every due consultation).",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60),
)
BILLING_TICKS = Counter(
    "consult_billing_ticks", "Billing ticks run, by result (ok or failed).", ["result"]
)
BILLING_LAST_TICK = Gauge(
    "consult_billing_last_tick_timestamp_seconds",
    "Unix time the last billing tick finished.",
    multiprocess_mode="max",
)
BILLING_CONSULTATIONS = Counter(
    "consult_billing_consultations", "Consultations settled by billing ticks."
)
BILLING_FORCE_ENDED = Counter(
    "consult_billing_force_ended", "Consultations the billing tick ended (money or presence)."
)
BILLING_SET_ASIDE = Counter(
    "consult_billing_set_aside",
    "Consultations (or batches) a billing tick could not bill and set aside to bill the rest.",
)
LEDGER_POSTINGS = Counter(
    "consult_ledger_postings", "Balanced ledger transactions committed, by kind.", ["kind"]
)
HTTP_REQUESTS = Counter(
    "consult_http_requests", "HTTP answers, by method and status code.", ["method", "status"]
)
HTTP_DURATION = Histogram(
    "consult_http_request_duration_seconds",
    "Time from a request's first byte in to its last byte out.",
    ["method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WS_CONNECTIONS = Gauge(
    "consult_ws_connections", "Open WebSocket connections.", multiprocess_mode="livesum"
)
WS_MESSAGES = Counter(
    "consult_ws_messages", "WebSocket frames, by direction (in or out).", ["direction"]
)
ERRORS = Counter(
    "consult_errors",
    "Error answers by their contract code, over HTTP and the WebSocket.",
    ["code", "transport"],
)
PAYMENTS = Counter(
    "consult_payments", "Payments that reached a status (created, captured, ...).", ["status"]
)
REFUNDS = Counter(
    "consult_refunds", "Refunds that reached a status (pending, processed, failed).", ["status"]
)
RECONCILE_DURATION = Gauge(
    "consult_reconcile_ledger_duration_seconds",
    "How long the last reconcile_ledger took.",
    multiprocess_mode="mostrecent",
)
RECONCILE_CLEAN = Gauge(
    "consult_reconcile_ledger_clean",
    "1 if the last reconcile_ledger found the books clean, else 0.",
    multiprocess_mode="mostrecent",
)
RECONCILE_VIOLATIONS = Gauge(
    "consult_reconcile_ledger_violations",
    "Violations the last reconcile_ledger found.",
    multiprocess_mode="mostrecent",
)
RECONCILE_LAST_RUN = Gauge(
    "consult_reconcile_ledger_last_run_timestamp_seconds",
    "Unix time the last reconcile_ledger finished.",
    multiprocess_mode="max",
)


# Series that alerts and panels read exist from the start (an `increase()` over a series that
# appears with its first event misses that event).
for _result in ("ok", "failed"):
    BILLING_TICKS.labels(_result)
for _direction in ("in", "out"):
    WS_MESSAGES.labels(_direction)
for _status in ("created", "captured", "failed", "refunded", "partially_refunded"):
    PAYMENTS.labels(_status)
for _status in ("pending", "processed", "failed"):
    REFUNDS.labels(_status)


def _safely(func: Callable[..., None]) -> Callable[..., None]:
    @wraps(func)
    def call(*args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except Exception:  # noqa: BLE001 - a metric never fails the work it measures
            logger.warning("metric %s not recorded", func.__name__, exc_info=True)

    return call


def _on_commit(action: Callable[[], None]) -> None:
    """Runs `action` once the current transaction commits (at once outside one): what rolled
    back did not happen."""
    from django.db import transaction

    transaction.on_commit(action)


# --- What the code calls ----------------------------------------------------------------------

T = TypeVar("T")


def billing_tick(func: Callable[..., T]) -> Callable[..., T]:
    """Decorates the billing tick (`consultations.services.bill_due_consultations`): times it,
    counts it ok or failed, and reads its report's `billed` and `ended`."""

    @wraps(func)
    def tick(*args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        try:
            report = func(*args, **kwargs)
        except BaseException:
            _record_tick(time.perf_counter() - started, None, ok=False)
            raise
        _record_tick(time.perf_counter() - started, report, ok=True)
        return report

    return tick


@_safely
def _record_tick(seconds: float, report: Any, *, ok: bool) -> None:
    BILLING_TICK_DURATION.observe(seconds)
    BILLING_TICKS.labels("ok" if ok else "failed").inc()
    if ok:
        BILLING_LAST_TICK.set(time.time())
        BILLING_CONSULTATIONS.inc(getattr(report, "billed", 0) or 0)
        BILLING_FORCE_ENDED.inc(getattr(report, "ended", 0) or 0)


@_safely
def billing_set_aside(count: int = 1) -> None:
    """A tick could not bill `count` consultations (or a batch) and went on without them."""
    BILLING_SET_ASIDE.inc(count)


@_safely
def ledger_postings(kinds: Iterable[str]) -> None:
    """Ledger transactions of these kinds were written; counted when they commit."""
    tally = Tally(str(kind) for kind in kinds)
    if tally:
        _on_commit(lambda: _count_postings(tally))


@_safely
def _count_postings(tally: Tally) -> None:
    for kind, count in tally.items():
        LEDGER_POSTINGS.labels(kind).inc(count)


@_safely
def payment_status(status: str, *, count: int = 1) -> None:
    """`count` payments reached `status` (counted when it commits; 0 counts nothing, so the
    result of a compare-and-set `update()` can be passed as it is)."""
    if count:
        _on_commit(lambda: PAYMENTS.labels(str(status)).inc(count))


@_safely
def refund_status(status: str, *, count: int = 1) -> None:
    """`count` refunds reached `status` (counted when it commits; 0 counts nothing)."""
    if count:
        _on_commit(lambda: REFUNDS.labels(str(status)).inc(count))


@_safely
def error(code: str, *, transport: str = "http") -> None:
    """An error answer with this contract code went out (`transport`: http or ws)."""
    ERRORS.labels(code, transport).inc()


@_safely
def http_request(method: str, status: int, seconds: float) -> None:
    method = method if method in _HTTP_METHODS else "other"
    HTTP_REQUESTS.labels(method, str(status)).inc()
    HTTP_DURATION.labels(method).observe(seconds)


@_safely
def ws_opened() -> None:
    WS_CONNECTIONS.inc()


@_safely
def ws_closed() -> None:
    WS_CONNECTIONS.dec()


# A frame's counter, looked up once: `labels()` checks and locks at each call, and a socket
# counts every frame in and out.
_WS_MESSAGES_BY_DIRECTION = {side: WS_MESSAGES.labels(side) for side in ("in", "out")}


@_safely
def ws_message(direction: str) -> None:
    _WS_MESSAGES_BY_DIRECTION[direction].inc()


@_safely
def reconcile_done(*, seconds: float, violations: int) -> None:
    RECONCILE_DURATION.set(seconds)
    RECONCILE_CLEAN.set(0 if violations else 1)
    RECONCILE_VIOLATIONS.set(violations)
    RECONCILE_LAST_RUN.set(time.time())


@contextmanager
def reconcile_timer() -> Iterator[Callable[[int], None]]:
    """`with metrics.reconcile_timer() as done: ...; done(len(report.violations))`."""
    started = time.perf_counter()
    yield lambda violations: reconcile_done(
        seconds=time.perf_counter() - started, violations=violations
    )


# --- Read at scrape time from the database ----------------------------------------------------


class DatabaseCollector(Collector):
    """The figures that are facts of the database, read when scraped (a few indexed queries):
    active consultations by channel, the billing lag, refunds waiting on the gateway, and
    whether PostgreSQL and Redis answer."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "consult_dependency_up",
            "1 if the dependency answered this scrape, else 0.",
            labels=["dependency"],
        )
        try:
            yield from self._database_figures()
            up.add_metric(["database"], 1)
        except Exception as exc:  # noqa: BLE001 - a down database is a figure, not a failure
            logger.warning("metrics: the database did not answer: %s", exc)
            up.add_metric(["database"], 0)
        up.add_metric(["redis"], 1 if _redis_answers() else 0)
        yield up

    def _database_figures(self) -> Iterator[GaugeMetricFamily]:
        from django.conf import settings

        from config.operations import live_state

        state = live_state()
        active = GaugeMetricFamily(
            "consult_active_consultations",
            "Active consultations, by channel.",
            labels=["channel"],
        )
        for channel in sorted(set(CHANNELS) | set(state.active_by_channel)):
            active.add_metric([channel], state.active_by_channel.get(channel, 0))
        yield active
        yield GaugeMetricFamily(
            "consult_billing_lag_seconds",
            "How far behind the oldest active consultation's billing is (0 with none).",
            value=state.billing_lag_seconds,
        )
        yield GaugeMetricFamily(
            "consult_billing_tick_seconds",
            "The configured billing period (BILLING_TICK_SECONDS).",
            value=settings.BILLING_TICK_SECONDS,
        )
        yield GaugeMetricFamily(
            "consult_refunds_pending",
            "Refunds waiting for the gateway's answer.",
            value=state.refunds_pending,
        )


def _redis_answers() -> bool:
    from django.conf import settings

    if not settings.REDIS_URL:
        return True  # the embedded mode has no Redis to lose
    try:
        from django_redis import get_redis_connection

        return bool(get_redis_connection("default").ping())
    except Exception:  # noqa: BLE001 - down is the answer
        return False


# --- Rendering ----------------------------------------------------------------------------------

_PID_FILE = re.compile(r"_(\d+)\.db$")


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def forget_dead_processes(path: str) -> None:
    """Drops the live-only gauges of processes that are gone (killed without their exit hook),
    so a killed daphne's sockets stop counting. Only pids of this machine share a folder."""
    for name in os.listdir(path):
        match = _PID_FILE.search(name)
        if not (name.startswith("gauge_live") and match):
            continue
        pid = int(match.group(1))
        if not _alive(pid):
            _multiprocess.mark_process_dead(pid, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def render(*, with_database: bool = True) -> bytes:
    """The Prometheus text exposition of every process sharing the metrics folder (or of this
    process alone without one), plus the database figures."""
    registry = CollectorRegistry(auto_describe=False)
    path = multiprocess_dir()
    if path:
        forget_dead_processes(path)
        _multiprocess.MultiProcessCollector(registry, path=path)
    if with_database:
        registry.register(DatabaseCollector())
    output = generate_latest(registry)
    if not path:
        output = generate_latest(REGISTRY) + output
    return output


def open_sockets() -> int:
    """`consult_ws_connections` summed over the live processes sharing the metrics folder (or
    this process's own figure without one)."""
    path = multiprocess_dir()
    if not path:
        return int(WS_CONNECTIONS._value.get())
    forget_dead_processes(path)
    registry = CollectorRegistry(auto_describe=False)
    _multiprocess.MultiProcessCollector(registry, path=path)
    return int(registry.get_sample_value("consult_ws_connections") or 0)


def _exit_hook() -> None:
    path = multiprocess_dir()
    if path:
        try:
            _multiprocess.mark_process_dead(os.getpid(), path)
        except Exception:  # noqa: BLE001 - the next scrape notices the pid is gone
            logger.debug("metrics: could not mark this process dead", exc_info=True)


atexit.register(_exit_hook)
