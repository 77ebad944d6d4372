"""A local HTTP endpoint for the rules engine's http action: records every request and answers
with the statuses it is told to, optionally slowly."""
import http.server
import threading
import time


class Endpoint:
    def __init__(self, statuses=(), delay=0.0):
        self.requests = []  # (path, headers dict with lower-case keys, body bytes)
        self.statuses = list(statuses)  # answered in order; 200 once they run out
        self.delay = delay
        self.lock = threading.Lock()
        ep = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with ep.lock:
                    ep.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()},
                                        body))
                    status = ep.statuses.pop(0) if ep.statuses else 200
                if ep.delay:
                    time.sleep(ep.delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up (its timeout)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= n:
                    return list(self.requests)
            time.sleep(0.02)
        with self.lock:
            return list(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
