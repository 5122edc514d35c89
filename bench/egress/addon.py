"""mitmdump addon for the egress benchmark: the same policy and injection bottle-egress does.

Allow only the benchmark upstream (127.0.0.1), answer 403 otherwise, and inject the
credential header from BENCH_SECRET.
"""
import os

from mitmproxy import http

SECRET = os.environ.get("BENCH_SECRET", "")
ALLOWED = os.environ.get("BENCH_ALLOWED_HOST", "127.0.0.1")


class InjectCredential:
    def request(self, flow: http.HTTPFlow) -> None:
        if flow.request.host != ALLOWED:
            flow.response = http.Response.make(403, b"denied\n", {"content-type": "text/plain"})
            return
        flow.request.headers["x-api-key"] = SECRET


addons = [InjectCredential()]
