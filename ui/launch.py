"""Start OnRecord: the API and the web page, together. ``python -m ui.launch`` (``make run``).

- API:  ``python -m uvicorn api.app:app`` on ONRECORD_HOST:ONRECORD_PORT (default 127.0.0.1:8000)
- page: ``python -m streamlit run ui/app.py`` on ONRECORD_HOST:ONRECORD_UI_PORT (default 127.0.0.1:8501),
  pointed at that API through ONRECORD_API_URL.

Both run as subprocesses (nothing of api/ is imported here). The launcher waits for the
API's /healthz and the page's health check, prints both addresses, and stops both on
Ctrl-C or SIGTERM; if either exits on its own, the other is stopped too.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
API_START_TIMEOUT = float(os.environ.get("ONRECORD_START_TIMEOUT", "180"))


class _Stop(Exception):
    pass


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _stop(proc: subprocess.Popen | None, name: str, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # the child and anything it started
    except (ProcessLookupError, PermissionError):
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        print(f"  {name} did not stop in {timeout:.0f}s; killing it", flush=True)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.wait()


def _wait_http(url: str, proc: subprocess.Popen, name: str, timeout: float) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the {name} exited (code {proc.returncode}) before it was ready; see its output above")
        try:
            return httpx.get(url, timeout=2.0)
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {name} did not answer at {url} within {timeout:.0f}s")
        time.sleep(0.3)


def main() -> int:
    host = os.environ.get("ONRECORD_HOST", "127.0.0.1")
    api_port = int(os.environ.get("ONRECORD_PORT", "8000"))
    ui_port = int(os.environ.get("ONRECORD_UI_PORT", "8501"))
    api_url = f"http://{host}:{api_port}"
    ui_url = f"http://{host}:{ui_port}"

    for port, what, var in ((api_port, "API", "ONRECORD_PORT"), (ui_port, "web page", "ONRECORD_UI_PORT")):
        if not _port_free(host, port):
            print(f"Port {port} on {host} is in use, so the {what} cannot start there. "
                  f"Stop whatever uses it, or choose another port: {var}=<port> make run", file=sys.stderr)
            return 2

    env = dict(os.environ, ONRECORD_API_URL=api_url, PYTHONUNBUFFERED="1")
    api_cmd = [sys.executable, "-m", "uvicorn", "api.app:app", "--host", host, "--port", str(api_port)]
    ui_cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / "app.py"),
              "--server.port", str(ui_port), "--server.address", host, "--server.headless", "true",
              "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"]

    def on_signal(signum, frame):  # SIGTERM (and SIGINT) end the wait loop; cleanup below
        raise _Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, on_signal)

    api = page = None
    code = 0
    try:
        print(f"Starting the OnRecord API on {api_url} ...", flush=True)
        api = subprocess.Popen(api_cmd, cwd=ROOT, env=env, start_new_session=True)
        page = subprocess.Popen(ui_cmd, cwd=ROOT, env=env, start_new_session=True)

        health = _wait_http(f"{api_url}/healthz", api, "API", API_START_TIMEOUT)
        if health.status_code != 200:
            try:
                detail = health.json().get("detail", health.text)
            except ValueError:
                detail = health.text
            print(f"The API answered /healthz with {health.status_code}: {detail}", flush=True)
        _wait_http(f"{ui_url}/_stcore/health", page, "web page", 60)

        print()
        print("  OnRecord is running.")
        print(f"  Web page: {ui_url}")
        print(f"  API:      {api_url}   (e.g. {api_url}/search?q=what+is+a+MASH)")
        print("  Press Ctrl-C to stop both.", flush=True)

        while True:
            for proc, name in ((api, "API"), (page, "web page")):
                if proc.poll() is not None:
                    print(f"The {name} stopped (exit code {proc.returncode}); stopping OnRecord.",
                          file=sys.stderr, flush=True)
                    code = proc.returncode or 1
                    raise _Stop(name)
            time.sleep(0.5)
    except _Stop:
        pass
    except RuntimeError as exc:
        print(f"OnRecord could not start: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("Stopping OnRecord ...", flush=True)
        _stop(page, "web page")
        _stop(api, "API")
        print("Stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
