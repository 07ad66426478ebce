"""The HTTP server class of the dev fakes: threads per connection and a deep listen queue.

socketserver listens with a queue of 5. A job opens its writers' connections at once (two
partitions x 32 in flight), the kernel drops what overflows the queue, and the writers that
seemed connected waited out their 30 s read time-out: a tiny benchmark's run took 32 s, not 2.
"""

from __future__ import annotations

from http.server import ThreadingHTTPServer

__all__ = ["LoopbackServer"]


class LoopbackServer(ThreadingHTTPServer):
    request_queue_size = 1024  # the kernel caps it at net.core.somaxconn
    daemon_threads = True
