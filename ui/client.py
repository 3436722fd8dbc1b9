"""The UI's only way to the API: a small HTTP client for docs/http-contract.md.

The UI never imports api/, retriever/ or eval/. It speaks to the API over HTTP, and
every failure becomes one of two exceptions the page knows how to show:

- ``ApiUnavailable``: nothing answered at the base URL (refused, timed out, DNS).
- ``ApiError``: the API answered with an error status; ``status`` and ``detail``
  carry what it said (``{"detail": str or list}`` per the contract).

Tests replace the client by monkeypatching ``make_client`` (the page calls
``ui.client.make_client(base_url)`` on every run).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import httpx

DEFAULT_API_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=3.0)


class ApiUnavailable(Exception):
    """The API could not be reached at all."""

    def __init__(self, base_url: str, reason: str = "") -> None:
        self.base_url = base_url
        self.reason = reason
        super().__init__(f"OnRecord API not reachable at {base_url}" + (f": {reason}" if reason else ""))


class ApiError(Exception):
    """The API answered with an error status (4xx/5xx)."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"API error {status}: {detail}")


def format_detail(detail: Any) -> str:
    """The contract's ``detail`` is a string or (FastAPI validation) a list of dicts."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = item.get("loc") or []
                where = ".".join(str(x) for x in loc if x not in ("query", "body"))
                msg = str(item.get("msg", item))
                parts.append(f"{where}: {msg}" if where else msg)
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if detail is None:
        return ""
    return str(detail)


class OnRecordClient:
    """Thin synchronous client over the OnRecord HTTP contract."""

    def __init__(self, base_url: str = DEFAULT_API_URL, *, api_key: str | None = None,
                 timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"X-API-Key": api_key} if api_key else None  # the API's optional ONRECORD_API_KEY
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport, headers=headers)

    # -- plumbing ---------------------------------------------------------
    def absolute(self, url: str) -> str:
        """An API-relative URL (``/documents/x/file#page=3``) made absolute."""
        return urljoin(self.base_url + "/", url.lstrip("/")) if not url.startswith(("http://", "https://")) else url

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
            raise ApiUnavailable(self.base_url, type(exc).__name__) from exc
        except httpx.TimeoutException as exc:
            raise ApiUnavailable(self.base_url, "the API did not answer in time") from exc
        except httpx.TransportError as exc:
            raise ApiUnavailable(self.base_url, str(exc) or type(exc).__name__) from exc
        if response.status_code >= 400:
            try:
                detail = format_detail(response.json().get("detail"))
            except (ValueError, AttributeError):
                detail = response.text.strip()[:500]
            raise ApiError(response.status_code, detail or response.reason_phrase)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(response.status_code, "the API answered with something that is not JSON") from exc

    # -- the contract -----------------------------------------------------
    def search(self, q: str, k: int = 5, council: str | None = None, document: str | None = None,
               kind: str | None = None, infer: bool = True, correct: bool = True) -> dict:
        body = {"q": q, "k": int(k), "council": council or None, "document": document or None,
                "kind": kind or None, "infer": bool(infer), "correct": bool(correct)}
        return self._json("POST", "/search", json=body)

    def documents(self) -> list[dict]:
        return list(self._json("GET", "/documents").get("documents", []))

    def glossary(self, council: str | None = None) -> list[dict]:
        params = {"council": council} if council else None
        return list(self._json("GET", "/glossary", params=params).get("terms", []))

    def health(self) -> dict:
        return self._json("GET", "/healthz")

    def page_image(self, url: str, width: int = 1000) -> bytes:
        """PNG bytes of a page (``page_image_url`` from a passage)."""
        return self._request("GET", url, params={"width": width}).content

    def close(self) -> None:
        self._http.close()


_clients: dict[str, OnRecordClient] = {}


def make_client(base_url: str = DEFAULT_API_URL, api_key: str | None = None) -> OnRecordClient:
    """The page gets its client here (one per base URL and key, reused across reruns);
    tests monkeypatch this to return a fake."""
    key = f"{base_url.rstrip('/')} {api_key or ''}"
    if key not in _clients:
        _clients[key] = OnRecordClient(base_url, api_key=api_key)
    return _clients[key]
