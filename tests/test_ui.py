"""The web page's logic, run in-process with Streamlit's AppTest and the API replaced by fixtures.

The page gets its client from ``ui.client.make_client(base_url)`` on every run; each test
monkeypatches that to return a ``FakeClient`` serving the canned JSON of tests/ui_fixtures.py
(shaped per docs/http-contract.md) and recording the calls the page makes.
"""
from __future__ import annotations

import html
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui.client
from tests import ui_fixtures as fx
from ui import render
from ui.client import ApiError, ApiUnavailable

APP = str(Path(__file__).resolve().parent.parent / "ui" / "app.py")


class FakeClient:
    """Stands in for ui.client.OnRecordClient; same methods, canned answers."""

    def __init__(self, *, down: bool = False, search_error: ApiError | None = None, answered: bool = True,
                 passages: list | None = None, infer_council: str | None = None,
                 expansions: list | None = None, spelling: dict | None = None) -> None:
        self.down = down
        self.search_error = search_error
        self.answered = answered
        self.passages = passages
        self.infer_council = infer_council
        self.expansions = expansions
        self.spelling = spelling  # the API's correction, "searched" as the request's correct= says
        self.words: list | None = None  # None: the question's words as typed
        self.missing_words: list | None = None
        self.glossary_terms: list[dict] | None = None  # None: the fixtures' two terms
        self.document_list: list[dict] | None = None  # None: the fixtures' two reports
        self.calls: list[tuple[str, dict]] = []

    def _check(self) -> None:
        if self.down:
            raise ApiUnavailable("http://127.0.0.1:8000", "ConnectError")

    def search(self, q, k=5, council=None, document=None, kind=None, infer=True, correct=True):
        self.calls.append(("search", {"q": q, "k": k, "council": council, "document": document,
                                      "kind": kind, "infer": infer, "correct": correct}))
        self._check()
        if self.search_error:
            raise self.search_error
        inferred = self.infer_council if (infer and not council) else None
        return fx.search_response(q, answered=self.answered, inferred=inferred, expansions=self.expansions,
                                  passages=self.passages,
                                  spelling=dict(self.spelling, searched=correct) if self.spelling else None,
                                  words=self.words, missing_words=self.missing_words)

    def documents(self):
        self.calls.append(("documents", {}))
        self._check()
        return fx.documents() if self.document_list is None else [dict(d) for d in self.document_list]

    def glossary(self, council=None):
        self.calls.append(("glossary", {"council": council}))
        self._check()
        return fx.glossary(council) if self.glossary_terms is None else [dict(t) for t in self.glossary_terms]

    def health(self):
        self._check()
        return dict(fx.HEALTH)

    def page_image(self, url, width=1000):
        self.calls.append(("page_image", {"url": url}))
        self._check()
        return fx.page_png()

    def searches(self) -> list[dict]:
        return [args for name, args in self.calls if name == "search"]


@pytest.fixture
def fake(monkeypatch):
    client = FakeClient()
    monkeypatch.setattr(ui.client, "make_client", lambda *args, **kwargs: client)
    return client


def make_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=30)


def ask(at: AppTest, question: str) -> AppTest:
    at.text_input(key="q").input(question)
    search_button(at).click()
    return at.run()


def search_button(at: AppTest):
    return next(b for b in at.button if b.label == "Search")


def markdown_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


# ---------------------------------------------------------------------------- results
def test_results_show_citation_first_then_highlighted_answer(fake):
    at = make_app().run()
    no_exception(at)
    ask(at, "What did Telford decide on taxi licensing?")
    no_exception(at)

    assert fake.searches()[-1] == {"q": "What did Telford decide on taxi licensing?", "k": 5, "council": None,
                                   "document": None, "kind": None, "infer": True, "correct": True}
    values = [m.value for m in at.markdown]
    cite = next(i for i, v in enumerate(values) if "or-cite" in v and "Tackling Child Sexual" in v)
    text = next(i for i, v in enumerate(values) if "or-passage" in v and "Decision Notice" in v)
    assert cite < text, "the citation comes before the passage text"
    assert "Telford &amp; Wrekin" in values[cite] and "29 March 2018" in values[cite] and "p. 12" in values[cite]
    assert "Decision" in values[cite]  # kind=decision badge

    passage_html = values[text]
    assert '<mark class="or-answer">' in passage_html
    marked = passage_html.split('<mark class="or-answer">')[1].split("</mark>")[0]
    assert html.unescape(marked) == fx.TAXI_ANSWER
    # report text is escaped: the fixture's "<script>" never reaches the page as markup
    assert "<script>" not in passage_html and "<script>x</script>" in html.unescape(passage_html)

    # second passage spans two pages
    assert any("pp. 30\u201331" in v for v in values if "or-cite" in v)
    # copy-citation text and the duplicate-pages note
    codes = [c.value for c in at.code]
    assert "\u201cTackling Child Sexual Exploitation Together\u201d, Telford & Wrekin, 29 March 2018, p. 12" in codes
    assert any("also appears on pp. 40\u201341" in c.value for c in at.caption)
    # a link opening the PDF at the page, on the API base
    urls = [lb.proto.url for lb in at.get("link_button")]
    assert "http://127.0.0.1:8000/documents/telford-cabinet/file#page=12" in urls
    # nothing is JSON-dumped at the user
    assert not at.json


def test_view_page_fetches_the_page_image_from_the_api(fake):
    at = make_app().run()
    ask(at, "taxi licensing")
    assert not at.get("image")
    toggle = next(t for t in at.toggle if t.label == "View page 12")
    toggle.set_value(True).run()
    no_exception(at)
    assert ("page_image", {"url": "/documents/telford-cabinet/pages/12.png"}) in fake.calls
    assert len(at.get("image")) == 1


def test_expansions_are_shown(fake):
    fake.expansions = [{"term": "MASH", "expansion": "Multi-Agency Safeguarding Hub"}]
    at = make_app().run()
    ask(at, "What is a MASH?")
    assert any("MASH = Multi-Agency Safeguarding Hub" in c.value for c in at.caption)


def test_a_corrected_slip_is_shown_and_can_be_searched_as_typed(fake):
    fake.spelling = {"question": "Operation Chalice <b>?", "corrections": [{"typed": "chalise", "suggested": "chalice"}]}
    at = make_app().run()
    ask(at, "Operation Chalise <b>?")
    no_exception(at)
    searches = lambda: [c[1] for c in fake.calls if c[0] == "search"]
    assert searches()[-1]["q"] == "Operation Chalise <b>?" and searches()[-1]["correct"] is True
    shown = [m.value for m in at.markdown if "or-spelling" in m.value]
    assert shown == ['<div class="or-spelling">Showing passages for&#58; Operation <b>Chalice</b> &#60;b&#62;?</div>']

    next(b for b in at.button if b.label == "Search as typed").click().run()
    no_exception(at)
    assert searches()[-1] == dict(searches()[-2], correct=False)
    assert at.query_params["correct"] == "false"
    shown = [m.value for m in at.markdown if "or-spelling" in m.value]
    assert shown == ['<div class="or-spelling">Did you mean&#58; Operation <b>Chalice</b> &#60;b&#62;?</div>']

    fake.spelling = None
    next(b for b in at.button if b.label == "Search for this instead").click().run()
    no_exception(at)
    assert searches()[-1]["q"] == "Operation Chalice <b>?" and searches()[-1]["correct"] is True
    assert at.text_input(key="q").value == "Operation Chalice <b>?"
    assert not [m for m in at.markdown if "or-spelling" in m.value]


def test_url_with_correct_false_searches_as_typed(fake):
    at = make_app()
    at.query_params["q"] = "Operation Chalise"
    at.query_params["correct"] = "false"
    at.run()
    no_exception(at)
    assert [c[1]["correct"] for c in fake.calls if c[0] == "search"] == [False]


def test_no_slip_no_spelling_note(fake):
    at = make_app().run()
    ask(at, "taxi licensing")
    assert not [m for m in at.markdown if "or-spelling" in m.value]
    assert not [b for b in at.button if b.label in ("Search as typed", "Search for this instead")]


# ---------------------------------------------------------------------------- abstention, errors
def test_abstention_says_so_and_folds_nearest_passages_as_low_confidence(fake):
    fake.answered = False
    at = make_app().run()
    ask(at, "What is the council's parking policy?")
    no_exception(at)
    assert any("do not appear to answer" in w.value for w in at.warning)
    assert len(at.expander) == 1
    exp = at.expander[0]
    assert "low confidence" in exp.label.lower()
    assert not exp.proto.expanded, "the nearest passages are folded away"
    # the passages are inside the expander, not on the page itself
    inside = "\n".join(m.value for m in exp.markdown)
    assert "or-passage" in inside


def test_words_no_report_holds_are_named(fake):
    fake.missing_words = ["zeppelins"]
    at = make_app().run()
    ask(at, "taxi licensing for zeppelins")
    no_exception(at)
    assert [c.value for c in at.caption if "Not in any report" in c.value] == ['Not in any report: "zeppelins"']
    fake.missing_words = None
    ask(at, "taxi licensing")
    assert not [c for c in at.caption if "Not in any report" in c.value]


def test_a_question_with_nothing_to_look_for_says_so_and_shows_no_passages(fake):
    fake.answered, fake.words = False, []
    at = make_app().run()
    ask(at, "what is it?")
    no_exception(at)
    assert any("names nothing to look for" in w.value for w in at.warning)
    assert not any("do not appear to answer" in w.value for w in at.warning)
    assert not at.expander and not [m for m in at.markdown if "or-passage" in m.value]


def test_no_passages_is_a_clear_state(fake):
    fake.passages = []
    at = make_app().run()
    ask(at, "zebra crossings")
    assert any("No passages found" in i.value for i in at.info)


def test_api_down_says_how_to_start_it(monkeypatch):
    client = FakeClient(down=True)
    monkeypatch.setattr(ui.client, "make_client", lambda *args, **kwargs: client)
    at = make_app().run()
    no_exception(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1
    assert "not reachable" in errors[0] and "make run" in errors[0] and "python -m api" in errors[0]
    ask(at, "What is a MASH?")
    no_exception(at)
    assert len(at.error) == 1 and "not reachable" in at.error[0].value


def test_api_4xx_detail_is_shown(fake):
    fake.search_error = ApiError(422, "k: Input should be less than or equal to 50")
    at = make_app().run()
    ask(at, "taxi")
    assert any("422" in e.value and "less than or equal to 50" in e.value for e in at.error)


def test_empty_question_asks_for_one_and_does_not_search(fake):
    at = make_app().run()
    ask(at, "   ")
    assert any("Type a question" in w.value for w in at.warning)
    assert fake.searches() == []


# ---------------------------------------------------------------------------- filters and URL
def test_filters_are_passed_to_the_api(fake):
    at = make_app().run()
    at.selectbox(key="council").set_value("Wolverhampton")
    at.selectbox(key="document").set_value("wolves-review")
    at.number_input(key="k").set_value(3)
    at.toggle(key="decisions").set_value(True)
    ask(at, "What did the review recommend?")
    no_exception(at)
    assert fake.searches()[-1] == {"q": "What did the review recommend?", "k": 3, "council": "Wolverhampton",
                                   "document": "wolves-review", "kind": "decision", "infer": True, "correct": True}
    # and the URL now reproduces the search
    assert at.query_params == {"q": "What did the review recommend?", "k": "3", "council": "Wolverhampton",
                               "document": "wolves-review", "kind": "decision"}


def test_filter_options_come_from_documents(fake):
    at = make_app().run()
    assert at.selectbox(key="council").options == ["All councils", "Telford & Wrekin", "Wolverhampton"]
    assert "Scrutiny Review of Child Sexual Exploitation (Wolverhampton)" in at.selectbox(key="document").options


def test_url_query_params_prefill_and_run_the_search(fake):
    at = make_app()
    at.query_params["q"] = "What did Telford decide on taxi licensing?"
    at.query_params["k"] = "3"
    at.query_params["council"] = "Telford & Wrekin"
    at.query_params["kind"] = "decision"
    at.run()
    no_exception(at)
    assert fake.searches() == [{"q": "What did Telford decide on taxi licensing?", "k": 3,
                                "council": "Telford & Wrekin", "document": None, "kind": "decision",
                                "infer": True, "correct": True}]
    assert at.text_input(key="q").value == "What did Telford decide on taxi licensing?"
    assert at.number_input(key="k").value == 3
    assert at.selectbox(key="council").value == "Telford & Wrekin"
    assert at.toggle(key="decisions").value is True
    assert any('<mark class="or-answer">' in v for v in (m.value for m in at.markdown))


def test_url_with_infer_false_keeps_inference_off(fake):
    fake.infer_council = "Telford & Wrekin"
    at = make_app()
    at.query_params["q"] = "What did Telford decide?"
    at.query_params["infer"] = "false"
    at.run()
    assert fake.searches()[-1]["infer"] is False
    assert not any("inferred from your question" in i.value for i in at.info)


def test_rerun_without_new_search_does_not_call_the_api_again(fake):
    at = make_app().run()
    ask(at, "taxi")
    n = len(fake.searches())
    at.run()
    assert len(fake.searches()) == n


# ---------------------------------------------------------------------------- empty state, views
def test_example_question_runs_on_click(fake):
    at = make_app().run()
    labels = [b.label for b in at.button if b.key and b.key.startswith("example_")]
    assert "What did Telford decide on taxi licensing?" in labels and "What is a MASH?" in labels
    assert len(labels) >= 4
    assert any("never writes" in c.value for c in at.caption)  # the About line
    at.button(key=f"example_{labels.index('What is a MASH?')}").click().run()
    no_exception(at)
    assert fake.searches()[-1]["q"] == "What is a MASH?"
    assert at.text_input(key="q").value == "What is a MASH?"
    assert at.query_params.get("q") == "What is a MASH?"


def test_reports_view_lists_documents_with_metadata_and_links(fake):
    at = make_app()
    at.query_params["view"] = "reports"
    at.run()
    no_exception(at)
    text = markdown_text(at)
    assert "Tackling Child Sexual Exploitation Together" in text
    assert "Telford &amp; Wrekin Council" in text and "Cabinet" in text and "120 pages" in text
    assert "April 2016" in text and "44 pages" in text
    urls = [lb.proto.url for lb in at.get("link_button")]
    assert "http://127.0.0.1:8000/documents/wolves-review/file" in urls
    # "Search this report" sets the document filter and returns to the question box
    at.button(key="search_doc_wolves-review").click().run()
    assert at.session_state["view"] == "Ask"
    assert at.selectbox(key="document").value == "wolves-review"


def test_many_reports_are_drawn_fifty_at_a_time_and_can_be_narrowed(fake):
    template = fx.documents()[0]
    fake.document_list = [{**template, "id": f"r{i:03d}", "file": f"report-{i:03d}.pdf", "title": f"Report {i:03d}",
                           "council": "Walsall" if i % 10 == 0 else "Telford & Wrekin",
                           "council_full": "Walsall Council" if i % 10 == 0 else "Telford & Wrekin Council",
                           "url": f"/documents/r{i:03d}/file"} for i in range(120)]
    at = make_app()
    at.query_params["view"] = "reports"
    at.run()
    no_exception(at)

    def drawn():
        return [b.key for b in at.button if (b.key or "").startswith("search_doc_")]

    assert drawn() == [f"search_doc_r{i:03d}" for i in range(50)]
    assert any("120 reports are indexed" in c.value and "Showing 50 of 120" in c.value for c in at.caption)
    at.button(key="reports_more").click().run()
    assert len(drawn()) == 100
    at.text_input(key="reports_filter").input("walsall").run()  # from the first again, narrowed
    assert drawn() == [f"search_doc_r{i:03d}" for i in range(0, 120, 10)]
    assert any("12 match “walsall”" in c.value for c in at.caption)
    assert not [b for b in at.button if b.key == "reports_more"]


def test_glossary_view_quotes_definitions_with_citation(fake):
    at = make_app()
    at.session_state["view"] = "Glossary"
    at.run()
    no_exception(at)
    text = markdown_text(at)
    assert "MASH" in text and "Multi-Agency Safeguarding Hub" in text
    assert "or-quote" in text and "p. 30" in text and "Tackling Child Sexual Exploitation Together" in text
    assert "/documents/telford-cabinet/file#page=30" in text
    at.selectbox(key="gloss_council").set_value("Wolverhampton").run()
    assert ("glossary", {"council": "Wolverhampton"}) in fake.calls
    assert "WSCB" in markdown_text(at) and "MASH" not in markdown_text(at)


def test_a_long_glossary_is_drawn_a_hundred_terms_at_a_time(fake):
    template = fx.glossary()[0]
    fake.glossary_terms = [{**template, "term": f"T{i:03d}", "expansion": f"Term number {i}"} for i in range(250)]
    at = make_app()
    at.session_state["view"] = "Glossary"
    at.run()
    no_exception(at)

    def drawn():
        return [m.value for m in at.markdown if 'class="or-term"' in m.value]

    assert len(drawn()) == 100 and "T000" in drawn()[0] and "T099" in drawn()[-1]
    assert any("Showing 100 of 250" in c.value for c in at.caption)
    at.button(key="gloss_more").click().run()
    assert len(drawn()) == 200 and "T199" in drawn()[-1]
    at.button(key="gloss_more").click().run()
    assert len(drawn()) == 250 and not [b for b in at.button if b.key == "gloss_more"]
    at.text_input(key="gloss_filter").input("number 12").run()  # narrowed: T012, T120-T129
    assert len(drawn()) == 11 and not any("Showing" in c.value for c in at.caption)


def test_inferred_council_is_shown_and_clearing_it_searches_with_infer_false(fake):
    fake.infer_council = "Telford & Wrekin"
    at = make_app().run()
    ask(at, "What did Telford decide on taxi licensing?")
    assert any(i.value == "Searching Telford & Wrekin first (inferred from your question)" for i in at.info)
    at.button(key="clear_inferred").click().run()
    no_exception(at)
    assert fake.searches()[-1] == {"q": "What did Telford decide on taxi licensing?", "k": 5, "council": None,
                                   "document": None, "kind": None, "infer": False, "correct": True}
    assert not any("inferred from your question" in i.value for i in at.info)
    assert at.query_params.get("infer") == "false"


# ---------------------------------------------------------------------------- formatting
def test_pages_label():
    assert render.pages_label(12, 12) == "p. 12"
    assert render.pages_label(12, 13) == "pp. 12\u201313"
    assert render.pages_label(7) == "p. 7"


def test_dates():
    assert render.format_date("2018-03-29") == "29 March 2018"
    assert render.format_date("2016-04") == "April 2016"
    assert render.format_date("") == "" and render.format_date(None) == ""


def test_highlight_escapes_report_text_and_marks_exact_span():
    text = "a <b>bold</b> & $5 claim. The answer is *here*."
    start = text.index("The answer")
    p = {"text": text, "answer": text[start:], "answer_start": start, "answer_end": len(text)}
    out = render.highlighted_html(p)
    assert "<b>" not in out and "&" not in out.replace("&#", "")
    assert html.unescape(out.replace('<mark class="or-answer">', "").replace("</mark>", "")) == (
        '<div class="or-passage">' + text + "</div>")
    assert out.count("<mark") == 1
    assert html.unescape(out.split('">', 2)[2].split("</mark>")[0]) == "The answer is *here*."
    assert "\n" not in out


def test_citation_text_names_answer_page_for_ranges():
    p = fx.passage(1, fx.WOLVES, fx.MASH_TEXT, fx.MASH_ANSWER, 30, 31)
    assert render.citation_text(p) == ("\u201cScrutiny Review of Child Sexual Exploitation\u201d, Wolverhampton, "
                                       "April 2016, pp. 30\u201331, answer on p. 30")


def test_client_maps_transport_and_http_errors():
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/search":
            return httpx.Response(422, json={"detail": [{"loc": ["body", "k"], "msg": "too big"}]})
        if request.url.path == "/documents":
            return httpx.Response(200, json={"documents": fx.documents()})
        raise httpx.ConnectError("refused", request=request)

    c = ui.client.OnRecordClient("http://api.test", transport=httpx.MockTransport(handler))
    assert [d["id"] for d in c.documents()] == ["telford-cabinet", "wolves-review"]
    with pytest.raises(ApiError) as err:
        c.search("q", k=99)
    assert err.value.status == 422 and err.value.detail == "k: too big"
    with pytest.raises(ApiUnavailable):
        c.health()
    assert c.absolute("/documents/x/file#page=3") == "http://api.test/documents/x/file#page=3"


def test_ui_does_not_import_api_retriever_or_eval():
    import ast

    for path in (Path(APP).parent).glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"api", "retriever", "eval", "ingest"}, f"{path.name} imports {name}"


def test_expansion_variants_are_shown_once():
    label = render.expansions_label([
        {"term": "MASH", "expansion": "Multi Agency Safeguarding Hub"},
        {"term": "MASH", "expansion": "multi-agency safeguarding hub"},
        {"term": "WSCB", "expansion": "Walsall Safeguarding Children Board"},
    ])
    assert label == "MASH = Multi Agency Safeguarding Hub; WSCB = Walsall Safeguarding Children Board"


def test_launcher_refuses_a_port_in_use(monkeypatch, capsys):
    import socket

    from ui import launch

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        monkeypatch.setenv("ONRECORD_PORT", str(busy.getsockname()[1]))
        monkeypatch.setenv("ONRECORD_UI_PORT", "0")
        monkeypatch.setattr(launch.subprocess, "Popen", lambda *a, **k: pytest.fail("nothing may start"))
        assert launch.main() == 2
    err = capsys.readouterr().err
    assert "is in use" in err and "ONRECORD_PORT=" in err
