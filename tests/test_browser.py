"""End to end in a real browser: Debian's headless Chromium driving the Streamlit page.

The main test (``test_real_api_question_shows_cited_highlighted_answer``, marked ``browser``
and ``model``) runs the whole stack as a user would: a small index is built in a temporary
folder with the real packaged encoder (pages 45-46 of the Telford Cabinet pack, on their own
page numbers, and the 3-page Wolverhampton Cabinet response, with corpus/reports.toml), the
real API runs as ``python -m uvicorn api.app:app`` on a free port (ONRECORD_INDEX_DIR /
ONRECORD_CORPUS_DIR pointing at those folders), the page as ``streamlit run ui/app.py`` on
another free port with ONRECORD_API_URL pointing at the API, and Chromium asks "what did
Telford decide on taxi licensing", checks the cited, highlighted answer, opens the page image
and saves tests/artifacts/browser-real-api.png.

The other tests point the page at a tiny stdlib HTTP server defined in this file that serves
the canned JSON of tests/ui_fixtures.py (shaped per docs/http-contract.md); they cover what the
small real index cannot show cheaply: the empty state, a narrow window, escaping of report
text, shared links and the Reports/Glossary views.

Selenium drives /usr/bin/chromium through /usr/bin/chromedriver, always given explicitly, so
selenium-manager never downloads a browser or driver. A missing Chromium is a failure (run
`make browser`), never a skip. Every subprocess is stopped in a fixture finalizer, pass or fail.

Screenshots are written to tests/artifacts/.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
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
REAL_QUESTION = "what did Telford decide on taxi licensing"
TELFORD_PDF = "telford-wrekin-2018-03-29-cabinet-tackling-cse-together.pdf"
WOLVERHAMPTON_PDF = "wolverhampton-2016-cabinet-cse-review-response.pdf"
TELFORD_PAGES = (45, 46)  # the pages of the Telford pack the real index holds (1-based)
API_START_SECONDS = 120  # after the build: the model loads in ~10-20 s, slower on a busy 2-core machine
UI_START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ONRECORD_* setting of the caller's, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONRECORD_")}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


# -- subprocesses ---------------------------------------------------------------------------
class Server:
    """A subprocess in its own session, its output in a log file; stop() ends it and its children."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log_path: Path, url: str):
        self.name, self.url, self.log_path = name, url, log_path
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"

    def wait_healthy(self, path: str, timeout: float, deadline: float | None = None) -> None:
        deadline = deadline or time.monotonic() + timeout
        last = "no answer"
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited ({self.proc.returncode}) before it was ready:\n{self.log_tail()}",
                            pytrace=False)
            try:
                r = httpx.get(self.url + path, timeout=3)
                if r.status_code == 200:
                    return
                last = f"{r.status_code} {r.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name} not ready at {self.url}{path} within {timeout:.0f}s (last: {last}):\n"
                            f"{self.log_tail()}", pytrace=False)
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: the group is just this server
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()


def streamlit_cmd(port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / "app.py"),
            "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
            "--server.fileWatcherType", "none"]


@contextmanager
def running(*servers_factories):
    """Start servers one after another (each factory returns a Server); stop all of them on exit."""
    started: list[Server] = []
    try:
        for make in servers_factories:
            started.append(make())
        yield started
    finally:
        for server in reversed(started):
            server.stop()


# -- the real stack: index built with the real model, real API, real page --------------------
@pytest.fixture(scope="module")
def real_corpus(tmp_path_factory):
    """A small slice of the shipped corpus, which the API also serves its pages from.

    The Telford Cabinet pack keeps its pages 45-46 (the review's taxi licensing findings) at
    their own page numbers, the 44 pages before them left blank (no text, nothing indexed), so
    citations read as they do over the full corpus; with the 3-page Wolverhampton Cabinet
    response and corpus/reports.toml. (The decision notice alone, pp. 1-4, is not enough: the
    real model's confidence on it stays below the answer threshold and the page abstains.)
    """
    import pypdf

    folder = tmp_path_factory.mktemp("corpus")
    reader = pypdf.PdfReader(ROOT / "corpus" / TELFORD_PDF)
    writer = pypdf.PdfWriter()
    box = reader.pages[0].mediabox
    for _ in range(TELFORD_PAGES[0] - 1):
        writer.add_blank_page(float(box.width), float(box.height))
    for number in TELFORD_PAGES:
        writer.add_page(reader.pages[number - 1])
    with (folder / TELFORD_PDF).open("wb") as fh:
        writer.write(fh)
    (folder / WOLVERHAMPTON_PDF).write_bytes((ROOT / "corpus" / WOLVERHAMPTON_PDF).read_bytes())
    (folder / "reports.toml").write_text((ROOT / "corpus" / "reports.toml").read_text(encoding="utf-8"),
                                         encoding="utf-8")
    return folder


def build_real_index(corpus: Path, root: Path) -> None:
    """The index over `corpus`, built with the real packaged encoder (as `onrecord ingest` does)."""
    from retriever.build import build_index
    from retriever.encoder import SentenceTransformerEncoder

    build_index([corpus], root, SentenceTransformerEncoder())


@pytest.fixture(scope="module")
def real_stack(browser, real_corpus, tmp_path_factory):
    """(api_url, ui_url): the real API and the page over a small index built with the real model.

    The API (``uvicorn api.app:app``) and streamlit start first and load while the index is
    built here: the API answers 503 until the build is made current, then switches to it
    without a restart (api/index_holder.py). Both are stopped at the end, pass or fail.
    Without a browser nothing is built or started: the test then fails at once via use().
    """
    if isinstance(browser, MissingBrowser):
        yield None
        return
    logs = tmp_path_factory.mktemp("real-stack-logs")
    index_root = tmp_path_factory.mktemp("index")
    api_port, ui_port = free_port(), free_port()
    api_url, ui_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}"
    api_env = clean_env(ONRECORD_INDEX_DIR=str(index_root), ONRECORD_CORPUS_DIR=str(real_corpus))
    api_cmd = [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1", "--port", str(api_port)]
    with running(lambda: Server("the API", api_cmd, api_env, logs / "api.log", api_url),
                 lambda: Server("streamlit", streamlit_cmd(ui_port), clean_env(ONRECORD_API_URL=api_url),
                                logs / "streamlit.log", ui_url)) as (api, ui):
        build_real_index(real_corpus, index_root)
        api.wait_healthy("/healthz", API_START_SECONDS)  # 200 once the model is loaded and the index open
        ui.wait_healthy("/_stcore/health", UI_START_SECONDS)
        yield api_url, ui_url


# -- the stand-in API --------------------------------------------------------------------------
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
    """The page, pointed at the stand-in API."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    with running(lambda: Server("streamlit", streamlit_cmd(port), clean_env(ONRECORD_API_URL=fake_api),
                                log_path, f"http://127.0.0.1:{port}")) as (ui,):
        ui.wait_healthy("/_stcore/health", UI_START_SECONDS)
        yield ui.url


# -- the browser -----------------------------------------------------------------------------
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


def _wait(driver, condition, timeout: float = 45, what: str = ""):
    """WebDriverWait, but a timeout fails with what the page shows (and a screenshot in tests/artifacts/)."""
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)
    except TimeoutException:
        try:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(ARTIFACTS / "browser-failure.png"))
            shown = driver.find_element("tag name", "body").text[-2500:]
        except WebDriverException as exc:
            shown = f"(page unreadable: {exc.msg})"
        pytest.fail(f"waited {timeout:.0f}s for {what or condition!r} at {driver.current_url}; the page shows:\n"
                    f"{shown}\n(screenshot: tests/artifacts/browser-failure.png)", pytrace=False)


# -- the tests ------------------------------------------------------------------------------
@pytest.mark.model
def test_real_api_question_shows_cited_highlighted_answer(browser, real_stack):
    """The real model, API and page: a question typed in Chromium gets a cited, highlighted answer."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC

    browser = use(browser)
    api_url, ui_url = real_stack
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.set_window_size(1280, 1000)
    browser.get(ui_url)
    box = _wait(browser, EC.element_to_be_clickable((By.CSS_SELECTOR, 'input[aria-label="Your question"]')))
    box.click()
    box.send_keys(REAL_QUESTION)
    box.send_keys(Keys.ENTER)

    # the answering sentence is marked, and every passage is cited to its page(s)
    mark = _wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, "mark.or-answer")), timeout=90,
                 what="a highlighted answer")
    assert mark.text.strip(), "the highlighted answer is empty"
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "do not appear to answer" not in body, "the page abstained"
    assert "Searching Telford & Wrekin first (inferred from your question)" in body
    assert '"answer_start"' not in body and '"passages"' not in body, "raw JSON on the page"
    cites = [c for c in browser.find_elements(By.CSS_SELECTOR, ".or-cite") if c.is_displayed()]
    assert cites, "no citation is visible"
    pages = [p.text for p in browser.find_elements(By.CSS_SELECTOR, ".or-cite .or-pages") if p.is_displayed()]
    assert pages and all(re.fullmatch(r"pp?\. \d+(\u2013\d+)?", p) for p in pages), pages
    # the first passage is the Telford Cabinet pack's, on its own page, with the answer marked in it
    first, passage = cites[0], cites[0].find_element(By.XPATH, "following::div[contains(@class, 'or-passage')][1]")
    assert "Tackling Child Sexual Exploitation Together" in first.text and "Telford & Wrekin" in first.text, first.text
    assert re.search(r"\bpp?\. 4[56]\b", first.text), first.text
    assert passage.find_elements(By.CSS_SELECTOR, "mark.or-answer"), "the first passage has no highlight"
    assert "licens" in passage.text.lower(), passage.text
    # the search is in the URL, so a link reproduces it
    _wait(browser, lambda d: "q=what+did+Telford" in d.current_url or "q=what%20did%20Telford" in d.current_url)
    # the PDF link points at the real API
    link = browser.find_elements(By.XPATH, "//a[contains(., 'Open PDF at p.')]")[0]
    assert link.get_attribute("href").startswith(f"{api_url}/documents/")

    # "View page" on the first passage shows its page image, rendered by the real API from the PDF
    toggle = browser.find_elements(By.XPATH, "//label[contains(., 'View page')]")[0]
    page = re.search(r"View page (\d+)", toggle.text).group(1)
    assert page in ("45", "46"), toggle.text
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", toggle)
    toggle.click()
    img = _wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, '[data-testid="stImage"] img')),
                timeout=60, what="the page image")
    _wait(browser, lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img),
          what="the page image to load")
    assert img.size["width"] > 200 and img.size["height"] > 200, img.size
    caption = browser.find_element(By.CSS_SELECTOR, '[data-testid="stImage"]').text
    assert f"page {page}" in caption, caption
    # the screenshot: the question, the first cited answer and its page image, from the top of the page
    browser.set_window_size(1280, 2300)
    browser.execute_script("document.querySelector('h1').scrollIntoView({block: 'start'});")
    time.sleep(0.5)  # let the layout settle after the resize
    shot = ARTIFACTS / "browser-real-api.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000


def test_stand_in_api_question_enter_shows_cited_highlighted_answer(browser, streamlit_server, fake_api):
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
    box = _wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, 'input[aria-label="Your question"]')),
                timeout=20, what="the question box")
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
