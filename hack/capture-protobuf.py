#!/usr/bin/env python3
"""Captures the protobuf request bodies kubectl sends, for Tests/APIServerTests/Corpus.

A loopback HTTP proxy in front of an API server (e.g. `lucid-operator dev --no-controllers`):
every request with `Content-Type: application/vnd.kubernetes.protobuf` is forwarded unchanged
and its body saved as OUT_DIR/<resource>.pb (the last path segment naming the collection).

Usage: hack/capture-protobuf.py LISTEN_PORT UPSTREAM_URL OUT_DIR
then point kubectl at http://127.0.0.1:LISTEN_PORT and run the `kubectl create ...` commands
listed in Tests/APIServerTests/Corpus/README.md. Stop it with Ctrl-C.
"""
import http.server
import os
import sys
import urllib.request

PORT, UPSTREAM, OUT = int(sys.argv[1]), sys.argv[2].rstrip("/"), sys.argv[3]
os.makedirs(OUT, exist_ok=True)


class Proxy(http.server.BaseHTTPRequestHandler):
    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if body and self.headers.get("Content-Type", "").startswith("application/vnd.kubernetes.protobuf"):
            resource = self.path.split("?")[0].rstrip("/").split("/")[-1]
            with open(os.path.join(OUT, resource + ".pb"), "wb") as f:
                f.write(body)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
        request = urllib.request.Request(UPSTREAM + self.path, data=body, method=self.command, headers=headers)
        try:
            response = urllib.request.urlopen(request)
        except urllib.error.HTTPError as error:
            response = error
        data = response.read()
        self.send_response(response.status if hasattr(response, "status") else response.code)
        for k, v in response.headers.items():
            if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Proxy).serve_forever()
