"""A Keepa that never finishes an answer: on 127.0.0.1, /product answers 200 and then sends
its body a byte at a time, forever as far as a client can tell. Bounded: it stops after
`for_seconds` or when the client hangs up. /token answers at once, so a pass gets going."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fakes import SHUTDOWN_POLL_SECONDS
from fakes.keepa_payloads import envelope


class TricklingKeepa:
    def __init__(self, *, interval: float = 0.05, for_seconds: float = 20.0) -> None:
        self.interval, self.for_seconds = interval, for_seconds
        self.trickled: list[str] = []  # paths of the answers that trickled
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0].endswith("/token"):
                    body = json.dumps(envelope([], tokens_left=1000)).encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                server.trickled.append(self.path.split("?")[0])
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(10**6))
                self.end_headers()
                stop_at = time.monotonic() + server.for_seconds
                try:
                    while time.monotonic() < stop_at:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(server.interval)
                except OSError:  # the client gave up: what the test wants
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"

    def __enter__(self) -> "TricklingKeepa":
        threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            daemon=True,
        ).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.shutdown()
        self._http.server_close()
