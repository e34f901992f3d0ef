#!/usr/bin/env python3
"""Container health endpoint: every GET answers 200 with a fixed body.

The body keeps the legacy `reigh-megaplan-dev` wording so existing health checks keep matching.
"""
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = b"OK - reigh-megaplan-dev container alive\n"


class HealthHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format, *args):  # request logging is off
        pass


def main():
    port = int(os.environ.get("PORT") or "8080")
    server = ThreadingHTTPServer(("0.0.0.0", port), HealthHandler)
    server.daemon_threads = True
    print(f"healthserver listening on :{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
