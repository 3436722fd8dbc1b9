"""End to end in a real browser: the Streamlit server, a stand-in API, Debian's headless Chromium.

The API here is a tiny stdlib HTTP server defined in this file that serves the canned JSON
of tests/ui_fixtures.py (shaped per docs/http-contract.md); it does not import api/. The
page runs as a real ``streamlit run ui/app.py`` subprocess pointed at it through
ONRECORD_API_URL. Selenium drives /usr/bin/chromium through /usr/bin/chromedriver (always
given explicitly, so selenium-manager never downloads a browser or driver).

Screenshots are written to tests/artifacts/.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests import ui_fixtures as fx

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
QUESTION = "What did Telford decide on taxi licensing?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeApi(BaseHTTPRequestHandler):
    """Canned answers per the HTTP contract; records the searches it receives."""

    searches: list[dict] = []
    png = b""

    def log_message(self, fmt, *args):  # keep pytest output quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, payload, status: int = 200) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _search(self, params: dict) -> None:
        q = (params.get("q") or "").strip()
        if not q:
            return self._json({"detail": "q must not be empty"}, 422)
        infer = params.get("infer", True)
        if isinstance(infer, str):
            infer = infer.lower() not in ("false", "0")
        type(self).searches.append(dict(params, infer=infer))
        inferred = "Telford & Wrekin" if infer and "telford" in q.lower() and not params.get("council") else None
        self._json(fx.search_response(q, inferred=inferred,
                                      expansions=[{"term": "CSE", "expansion": "child sexual exploitation"}]))

    def do_GET(self):  # noqa: N802
        url = urlparse(self.path)
        path, query = url.path, {k: v[-1] for k, v in parse_qs(url.query).items()}
        if path == "/healthz":
            return self._json(fx.HEALTH)
        if path == "/documents":
            return self._json({"documents": fx.documents()})
        if path == "/glossary":
            return self._json({"terms": fx.glossary(query.get("council"))})
        if path == "/search":
            return self._search(query)
        if path.startswith("/documents/") and path.endswith(".png"):
            return self._send(200, type(self).png, "image/png")
        if path.startswith("/documents/") and path.endswith("/file"):
            return self._send(200, b"%PDF-1.4\n%%EOF\n", "application/pdf")
        return self._json({"detail": f"not found: {path}"}, 404)

    def do_POST(self):  # noqa: N802
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._json({"detail": "body is not JSON"}, 422)
        if url.path == "/search":
            return self._search(body)
        return self._json({"detail": "method not allowed"}, 405)


@pytest.fixture(scope="module")
def fake_api():
    FakeApi.searches = []
    FakeApi.png = fx.page_png(800, 1130)
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), FakeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def streamlit_server(fake_api, tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    env = dict(os.environ, ONRECORD_API_URL=fake_api, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / "app.py"),
           "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal", "--server.fileWatcherType", "none"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start in 60s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        # Not a skip: CI must not pass without having driven a browser. The tests fail via use().
        yield MissingBrowser(f"{' and '.join(missing)} not found: run `make browser` (apt-get install "
                             "chromium chromium-driver) to install Debian's Chromium and its driver.")
        return
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # belt and braces: selenium-manager must never fetch anything
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-extensions", "--window-size=1280,1000",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


class MissingBrowser(str):
    pass


def use(browser):
    """The driver, or a test failure saying how to install Chromium (never a skip)."""
    if isinstance(browser, MissingBrowser):
        pytest.fail(str(browser), pytrace=False)
    return browser


def _wait(driver, condition, timeout: float = 45):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)


def test_question_enter_shows_cited_highlighted_answer(browser, streamlit_server, fake_api):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC

    browser = use(browser)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.set_window_size(1280, 1000)
    browser.get(streamlit_server)
    box = _wait(browser, EC.element_to_be_clickable((By.CSS_SELECTOR, 'input[aria-label="Your question"]')))
    # the empty state offers example questions and the About line
    _wait(browser, EC.visibility_of_element_located((By.XPATH, "//button[contains(., 'What is a MASH?')]")))
    assert "never writes" in browser.find_element(By.TAG_NAME, "body").text
    browser.save_screenshot(str(ARTIFACTS / "browser-empty-state.png"))

    box.click()
    box.send_keys(QUESTION)
    box.send_keys(Keys.ENTER)

    mark = _wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, "mark.or-answer")))
    assert mark.text.startswith("RESOLVED that the Cabinet write to the Minister for Transport")
    pages = _wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, ".or-cite .or-pages")))
    assert pages.text == "p. 12"
    cite = browser.find_elements(By.CSS_SELECTOR, ".or-cite")[0].text
    assert "Tackling Child Sexual Exploitation Together" in cite and "Telford & Wrekin" in cite
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Searching Telford & Wrekin first (inferred from your question)" in body
    assert "CSE = child sexual exploitation" in body
    # report text is shown as text, never as markup
    assert "<script>x</script>" in body
    assert FakeApi.searches[-1]["q"] == QUESTION and FakeApi.searches[-1]["infer"] is True
    # the URL now carries the search
    _wait(browser, lambda d: "q=What+did+Telford" in d.current_url or "q=What%20did%20Telford" in d.current_url)
    # the PDF link opens the page in a new tab, on the API
    link = browser.find_element(By.XPATH, "//a[contains(., 'Open PDF at p. 12')]")
    assert link.get_attribute("href") == f"{fake_api}/documents/telford-cabinet/file#page=12"
    assert link.get_attribute("target") == "_blank"
    browser.save_screenshot(str(ARTIFACTS / "browser-results.png"))

    # "View page" shows the page image fetched through the API
    toggle = browser.find_element(By.XPATH, "//label[contains(., 'View page 12')]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", toggle)
    toggle.click()
    _wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, '[data-testid="stImage"] img')))
    browser.save_screenshot(str(ARTIFACTS / "browser-page-image.png"))

    # a narrow window still shows the answer and the citation
    browser.set_window_size(420, 900)
    browser.execute_script("window.scrollTo(0, 0);")
    _wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, "mark.or-answer")))
    browser.save_screenshot(str(ARTIFACTS / "browser-narrow.png"))
    assert (ARTIFACTS / "browser-results.png").stat().st_size > 10_000


def test_shared_link_reproduces_the_search(browser, streamlit_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC

    browser = use(browser)

    browser.set_window_size(1280, 1000)
    before = len(FakeApi.searches)
    browser.get(f"{streamlit_server}/?q=What+is+a+MASH%3F&k=2&kind=decision")
    _wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, "mark.or-answer")))
    assert len(FakeApi.searches) > before
    assert FakeApi.searches[-1]["q"] == "What is a MASH?"
    assert FakeApi.searches[-1]["k"] == 2 and FakeApi.searches[-1]["kind"] == "decision"
    box = browser.find_element(By.CSS_SELECTOR, 'input[aria-label="Your question"]')
    assert box.get_attribute("value") == "What is a MASH?"


def test_reports_and_glossary_views(browser, streamlit_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC

    browser = use(browser)

    browser.set_window_size(1280, 1000)
    browser.get(streamlit_server)
    tab = _wait(browser, EC.element_to_be_clickable((By.XPATH, "//*[@role='tab'][contains(., 'Reports')]")))
    tab.click()
    _wait(browser, EC.visibility_of_element_located(
        (By.XPATH, "//*[contains(@class,'or-title')][contains(., 'Scrutiny Review of Child Sexual Exploitation')]")))
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "City of Wolverhampton Council" in body and "44 pages" in body
    _wait(browser, lambda d: "view=reports" in d.current_url)
    browser.save_screenshot(str(ARTIFACTS / "browser-reports.png"))

    browser.find_element(By.XPATH, "//*[@role='tab'][contains(., 'Glossary')]").click()
    quote = _wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, ".or-quote")))
    assert "Multi-Agency Safeguarding Hub (MASH)" in quote.text
    browser.save_screenshot(str(ARTIFACTS / "browser-glossary.png"))
