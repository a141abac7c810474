"""`python -m config.metrics_server [--port 9100]`: `/metrics` for a pod that serves no HTTP of
its own (a Celery worker's), beside it in the same pod and metrics folder.

The same text as daphne's `GET /metrics` (`config.metrics.render`), behind the same bearer
`METRICS_TOKEN` (404 while unset, 401 when wrong), with no host check: Prometheus scrapes a
pod by its IP. One thread, one request at a time: a scrape every few seconds is all it serves.
"""

from __future__ import annotations

import argparse
import hmac
import os
from wsgiref.simple_server import WSGIRequestHandler, make_server


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - wsgiref's name
        pass  # one line every scrape would drown the pod's log


def application(environ: dict, start_response) -> list[bytes]:
    from django.conf import settings
    from django.db import close_old_connections

    from config import metrics

    def answer(status: str, body: bytes, content_type: str = "text/plain; charset=utf-8"):
        headers = [("Content-Type", content_type)]
        if status.startswith("401"):
            headers.append(("WWW-Authenticate", 'Bearer realm="metrics"'))
        start_response(status, headers)
        return [body]

    if environ.get("PATH_INFO") != "/metrics" or not settings.METRICS_TOKEN:
        return answer("404 Not Found", b"not found\n")
    scheme, _, given = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), settings.METRICS_TOKEN.encode()
    ):
        return answer("401 Unauthorized", b"a valid bearer token is required\n")
    close_old_connections()  # a connection broken by a database restart is replaced
    try:
        return answer("200 OK", metrics.render(), metrics.CONTENT_TYPE)
    finally:
        close_old_connections()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a pod's own port
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    with make_server(args.host, args.port, application, handler_class=_Quiet) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
