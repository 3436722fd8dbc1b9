"""Plain ASGI middleware: no stack trace ever reaches a client, size limits, the optional API key."""
from __future__ import annotations

import hmac
import json
import logging

log = logging.getLogger("onrecord.api")

MAX_BODY_BYTES = 16 * 1024
# q may be 1,000 characters; percent-encoded 4-byte characters take 12 bytes each.
MAX_QUERY_BYTES = 12 * 1024


async def send_json(send, status: int, body: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": data})


class DropQueryStrings(logging.Filter):
    """uvicorn's access log would record every question (the query string): keep only the path.

    Questions are recorded only in the audit log, when the operator switches it on.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


def quiet_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, DropQueryStrings) for f in access.filters):
        access.addFilter(DropQueryStrings())


class ErrorMiddleware:
    """Any unexpected exception: logged with its traceback, answered 500 {"detail": "internal error"}."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("internal error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await send_json(send, 500, {"detail": "internal error"})


class LimitsMiddleware:
    """Query strings over max_query bytes get 414; request bodies over max_body bytes get 413."""

    def __init__(self, app, max_body: int = MAX_BODY_BYTES, max_query: int = MAX_QUERY_BYTES):
        self.app = app
        self.max_body = max_body
        self.max_query = max_query

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if len(scope.get("query_string", b"")) > self.max_query:
            return await send_json(send, 414, {"detail": f"query string over {self.max_query} bytes"})
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                return await send_json(send, 400, {"detail": "invalid Content-Length"})
            if declared > self.max_body:
                return await send_json(send, 413, {"detail": f"request body over {self.max_body} bytes"})
        # A body without a Content-Length (chunked) is counted as it arrives.
        received = 0
        refused = False

        async def counting_receive():
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    refused = True
                    await send_json(send, 413, {"detail": f"request body over {self.max_body} bytes"})
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not refused:
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise


class ApiKeyMiddleware:
    """When an API key is set, every path but /healthz needs it (X-API-Key, or Authorization: Bearer)."""

    OPEN_PATHS = frozenset({"/healthz"})

    def __init__(self, app, api_key: str):
        self.app = app
        self.api_key = api_key.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path") in self.OPEN_PATHS or scope.get("method") == "OPTIONS":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers", []))
        given = headers.get(b"x-api-key")
        if given is None:
            auth = headers.get(b"authorization", b"")
            if auth[:7].lower() == b"bearer ":
                given = auth[7:].strip()
        if given is None or not hmac.compare_digest(given, self.api_key):
            return await send_json(send, 401, {"detail": "missing or wrong API key (send it as X-API-Key)"},
                                   [(b"www-authenticate", b'Bearer realm="onrecord"')])
        return await self.app(scope, receive, send)
