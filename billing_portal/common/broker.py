"""kombu's Redis transport, publishing through one Redis client per channel.

Stock kombu (5.7) gives every publish a client of its own: `Channel._put` asks
`conn_or_acquire()` without a client, which builds a new redis-py `Redis` object on the
channel's connection pool each time, and redis-py's constructor fills in its table of
response callbacks for every object (about 0.1 ms, a sixth of a webhook's publish). The
connections themselves already come from the pool, so one client per channel pool does the
same work: it is made again when kombu replaces the pool (after a fork, on close).

Selected by `CELERY_BROKER_TRANSPORT` (settings.py) for a `redis://` broker; everything
else about the transport (URL, options, consuming) is kombu's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):
    # (the pool it was made on, the client): a new pool means a new client
    _publish_client: tuple[Any, Any] | None = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        pool = self.pool
        cached = self._publish_client
        if cached is None or cached[0] is not pool:
            # Two threads racing here each make a client; either one is fine to keep.
            cached = self._publish_client = (pool, self._create_client())
        yield cached[1]


class Transport(redis.Transport):
    Channel = Channel
