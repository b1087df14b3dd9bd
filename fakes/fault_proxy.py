"""A TCP proxy on 127.0.0.1 that misbehaves on request, between the job and its database.

No fault-injection server installs on this kind of machine (SUPABASE.md §0.10), so this is
stdlib asyncio in a thread of its own; a test calls its methods directly:

- `latency(seconds)`: every chunk is held that long before it is relayed;
- `partition()`: a silent partition: nothing more is relayed either way, sockets stay open
  (new connections are accepted and then ignored), as a pooler that stops answering;
  `partition_at(pattern)` does it the moment the client sends a message containing
  `pattern` (that message is held back too), to other proxies `along` with it;
- `reset()`: every connection is reset (RST) now;
- `cut_reply_to(pattern)`: the statement containing `pattern` reaches the server, its
  reply is dropped and the client's connection reset: the server did it, the client
  cannot know;
- `heal()`: relaying as normal again; connections that went through a partition are
  closed (their peers gave up on them), as after a real one.

Patterns match plaintext only: put the proxy between PgBouncer and PostgreSQL (or before
a server without TLS) to act on a statement; before TLS it can still delay, partition and
reset. psycopg sends a statement's text until it prepares it (after 5 executions).
"""

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo

CHUNK = 65536


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter | None = None
    cut_next_reply: bool = False
    partitioned: bool = False  # went through a partition: closed when it heals
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)


def upstream_of(dsn: str) -> tuple[str, int] | str:
    """Where a libpq connection string points: (host, port), or a Unix socket's path."""
    params = conninfo_to_dict(dsn)
    host = str(params.get("host") or "localhost").split(",")[0]
    port = int(str(params.get("port") or 5432).split(",")[0])
    return f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)


def _reset(writer: asyncio.StreamWriter | None) -> None:
    """Close with an RST rather than a FIN."""
    if writer is None or writer.is_closing():
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    def __init__(self, upstream: tuple[str, int] | str) -> None:
        """`upstream`: (host, port), or the path of a Unix socket."""
        self.upstream = upstream
        self.port = 0
        self.connections = 0
        self._latency = 0.0
        self._partitioned = False
        self._partition_pattern: bytes | None = None
        self._partition_countdown = 0
        self._partition_along: list[FaultProxy] = []
        self._cut_pattern: bytes | None = None
        self._cut_countdown = 0
        self._links: set[_Link] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._healed: asyncio.Event | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _start(self) -> None:
        self._healed = asyncio.Event()
        self._healed.set()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            self._drop(link)
        waiting = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)

    # -- faults (called from the test's thread) ------------------------------------------

    def latency(self, seconds: float) -> None:
        self._latency = seconds

    def partition(self) -> None:
        self._call(self._partition())

    def partition_at(
        self, pattern: bytes, *, nth: int = 1, along: Sequence["FaultProxy"] = ()
    ) -> None:
        """Partition when the `nth` message containing `pattern` is sent (held back), and
        the proxies `along` with it (a proxy before TLS, which cannot see the pattern)."""
        self._partition_pattern, self._partition_countdown = pattern, nth
        self._partition_along = [proxy for proxy in along if proxy is not self]

    def cut_reply_to(self, pattern: bytes, *, nth: int = 1) -> None:
        """Drop the reply to the `nth` message containing `pattern`, and reset."""
        self._cut_pattern, self._cut_countdown = pattern, nth

    def reset(self) -> None:
        self._call(self._reset_all())

    def heal(self) -> None:
        self._call(self._heal())

    @property
    def partitioned(self) -> bool:
        return self._partitioned

    def url(self, dsn: str) -> str:
        """`dsn` (a libpq connection string) through this proxy."""
        return make_conninfo(dsn, host="127.0.0.1", hostaddr="", port=str(self.port))

    async def _partition(self) -> None:
        self._partitioned = True
        assert self._healed is not None
        self._healed.clear()
        for link in self._links:
            link.partitioned = True

    async def _reset_all(self) -> None:
        for link in list(self._links):
            self._drop(link)

    async def _heal(self) -> None:
        self._latency = 0.0
        self._partition_pattern = self._cut_pattern = None
        for link in [link for link in self._links if link.partitioned]:
            self._drop(link)
        self._partitioned = False
        assert self._healed is not None
        self._healed.set()

    # -- relaying ------------------------------------------------------------------------

    def _drop(self, link: _Link) -> None:
        _reset(link.client)
        _reset(link.server)
        self._links.discard(link)
        for task in link.tasks:
            if task is not asyncio.current_task():
                task.cancel()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        link = _Link(client=writer, partitioned=self._partitioned)
        self._links.add(link)
        try:
            assert self._healed is not None
            await self._healed.wait()  # a connection made during a partition waits, ignored
            if link not in self._links:
                return
            if isinstance(self.upstream, str):
                server_reader, link.server = await asyncio.open_unix_connection(self.upstream)
            else:
                server_reader, link.server = await asyncio.open_connection(*self.upstream)
        except (OSError, asyncio.CancelledError):
            self._drop(link)
            return
        link.tasks = [
            asyncio.ensure_future(self._pump(link, reader, link.server, upstream=True)),
            asyncio.ensure_future(self._pump(link, server_reader, writer, upstream=False)),
        ]
        # A side that ends with an end of file half-closes (the other side goes on until its
        # peer closes too); a side reset ends the link both ways, as a reset does on a real
        # network. Waiting for both pumps instead left the client of a pooler that was
        # killed (reset, not closed) waiting on a socket nobody would ever answer.
        with contextlib.suppress(asyncio.CancelledError):  # the proxy stops: ended quietly
            done, _ = await asyncio.wait(link.tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.exception()  # retrieved: a reset is how this link ends, not an error
        self._drop(link)

    async def _pump(
        self,
        link: _Link,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        upstream: bool,
    ) -> None:
        assert self._healed is not None
        while data := await reader.read(CHUNK):
            if upstream and self._partition_pattern and self._partition_pattern in data:
                self._partition_countdown -= 1
                if self._partition_countdown == 0:
                    self._partition_pattern = None
                    await self._partition()
                    for proxy in self._partition_along:
                        proxy.partition()
            if upstream and self._cut_pattern and self._cut_pattern in data:
                self._cut_countdown -= 1
                if self._cut_countdown == 0:
                    self._cut_pattern = None
                    link.cut_next_reply = True
            if self._latency:
                await asyncio.sleep(self._latency)
            if link.partitioned or not self._healed.is_set():
                link.partitioned = True
                await self._healed.wait()  # held; the link is closed when it heals
                return
            if not upstream and link.cut_next_reply:
                self._drop(link)  # the server answered; the client never hears it
                return
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
