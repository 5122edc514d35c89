"""mitmdump addon for the egress benchmark: the same policy and injection bottle-egress does.

Allow only the benchmark upstream (127.0.0.1), answer 403 otherwise, inject the credential
header from BENCH_SECRET, buffer request bodies (egress must read a body before it forwards
it), and stream server-sent events and large answers through as they arrive, as egress does.
"""
import os

from mitmproxy import http

SECRET = os.environ.get("BENCH_SECRET", "")
ALLOWED = os.environ.get("BENCH_ALLOWED_HOST", "127.0.0.1")


class InjectCredential:
    # requestheaders, not request: a body mitmdump streams reaches `request` after the headers left.
    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.request.host != ALLOWED:
            flow.response = http.Response.make(403, b"denied\n", {"content-type": "text/plain"})
            return
        flow.request.headers["x-api-key"] = SECRET

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        # Request bodies are buffered (stream_large_bodies is set high, as egress must see a body
        # before it forwards it); SSE and large answers stream, as they do through egress.
        if flow.response is None:
            return
        sse = flow.response.headers.get("content-type", "").startswith("text/event-stream")
        large = int(flow.response.headers.get("content-length", "0") or 0) > 1024 * 1024
        if sse or large:
            flow.response.stream = True


addons = [InjectCredential()]
