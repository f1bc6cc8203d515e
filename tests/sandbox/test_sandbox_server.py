"""The sandbox's endpoint keeps every client connection open between requests, as AWS endpoints do."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.config import Config

pytestmark = pytest.mark.e2e  # the tiny sandbox, served

CLIENTS = 24  # more connections at once than cheroot keeps idle by default (ten)


def test_many_clients_connections_are_each_kept_for_their_next_request(tiny, aws):
    ports: list[str] = []
    server = tiny._server
    wrapped = server.app

    def counting(environ, start_response):
        ports.append(environ["REMOTE_PORT"])
        return wrapped(environ, start_response)

    s3 = aws.session.client(
        "s3", endpoint_url=aws.endpoint, region_name=tiny.region, config=Config(max_pool_connections=CLIENTS)
    )
    together = threading.Barrier(CLIENTS)

    def three_requests(_: int) -> None:
        together.wait()  # every thread holds its own connection at once
        for _ in range(3):
            s3.list_objects_v2(Bucket=tiny.trail_bucket, MaxKeys=1)

    server.app = counting
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(three_requests, range(CLIENTS)))
    finally:
        server.app = wrapped
    assert len(ports) == 3 * CLIENTS
    assert len(set(ports)) <= CLIENTS  # no connection was closed and reopened
