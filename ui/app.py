"""OnRecord's web page (Streamlit): ask a question, get the reports' own passages, cited to the page.

Run: ``streamlit run ui/app.py`` (or ``python -m ui.launch`` / ``make run`` for API + page).
The page talks to the API over HTTP only (``ui/client.py``), at ``ONRECORD_API_URL``
(default http://127.0.0.1:8000). Links the *browser* opens (PDFs) use
``ONRECORD_PUBLIC_API_URL`` when set, else the same URL.

Everything shown in a result is a report's text or its metadata: the page never writes
an answer of its own.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # `streamlit run ui/app.py` puts ui/, not the repo, on sys.path
    sys.path.insert(0, str(_ROOT))

import html  # noqa: E402

import streamlit as st  # noqa: E402

from ui import client as api_client  # noqa: E402  (module attribute lookup: tests patch make_client)
from ui import render  # noqa: E402
from ui.client import ApiError, ApiUnavailable  # noqa: E402

API_URL = (os.environ.get("ONRECORD_API_URL") or api_client.DEFAULT_API_URL).rstrip("/")
PUBLIC_API_URL = (os.environ.get("ONRECORD_PUBLIC_API_URL") or API_URL).rstrip("/")
API_KEY = os.environ.get("ONRECORD_API_KEY") or None

DEFAULT_K = 5
MAX_K = 20
VIEWS = ["Ask", "Reports", "Glossary"]
# Drawn at a time: an archive runs to hundreds of reports and thousands of glossary terms, each a block of
# the page, and Streamlit draws every block on every rerun.
REPORTS_SHOWN = 50
GLOSSARY_SHOWN = 100
EXAMPLES = [
    "What did Telford decide on taxi licensing?",
    "What is a MASH?",
    "What did Wolverhampton Cabinet resolve on the scrutiny review's recommendations?",
    "How many children in Walsall were identified as at risk of sexual exploitation?",
    "What training on child sexual exploitation must councillors complete?",
]
START_HINT = "Start it with `make run` (API and this page together) or `.venv/bin/python -m api`."

CSS = """
<style>
.block-container {max-width: 54rem; padding-top: 2rem;}
.or-cite {line-height: 1.45; margin-bottom: .4rem;}
.or-rank {display: inline-block; min-width: 1.55em; height: 1.55em; line-height: 1.55em; border-radius: .8em;
          background: #1f4e79; color: #fff; text-align: center; font-size: .8rem; margin-right: .5em;
          vertical-align: .1em;}
.or-title {font-weight: 600; font-size: 1.05rem;}
.or-meta {opacity: .8; font-size: .93rem;}
.or-pages {font-weight: 600; opacity: 1;}
.or-badge {display: inline-block; margin-left: .5em; padding: 0 .45em; border-radius: .3em; font-size: .78rem;
           border: 1px solid #1f4e79; color: #1f4e79; vertical-align: .1em;}
.or-passage {font-family: Georgia, "Times New Roman", serif; font-size: 1.05rem; line-height: 1.6;
             overflow-wrap: anywhere; margin: .2rem 0 .6rem 0;}
mark.or-answer {background: #ffe27a; color: #111; padding: .05em .15em; border-radius: .2em;}
.or-quote {font-family: Georgia, "Times New Roman", serif; border-left: 3px solid #c9c9c9;
           padding-left: .75rem; margin: .25rem 0 .35rem 0; overflow-wrap: anywhere;}
.or-small {font-size: .9rem; opacity: .85;}
.or-term {margin-bottom: 1.1rem;}
.or-footer {margin-top: 2rem;}
@media (max-width: 640px) {
  .block-container {padding-left: .8rem; padding-right: .8rem;}
  .or-passage {font-size: 1rem;}
}
</style>
"""

_shown_unavailable = False  # module globals reset on every script run


# ---------------------------------------------------------------------------- helpers
def get_client():
    return api_client.make_client(API_URL, API_KEY)


def public_url(url: str | None) -> str:
    if not url:
        return PUBLIC_API_URL
    if url.startswith(("http://", "https://")):
        return url
    return PUBLIC_API_URL + "/" + url.lstrip("/")


def show_unavailable(exc: ApiUnavailable | None = None) -> None:
    global _shown_unavailable
    if _shown_unavailable:
        return
    _shown_unavailable = True
    st.error(f"The OnRecord API is not reachable at {API_URL}. {START_HINT}", icon=":material/cloud_off:")


def show_api_error(exc: ApiError, what: str) -> None:
    if exc.status == 503:
        st.error(f"The API is up but not ready ({what}): {exc.detail}", icon=":material/warning:")
    elif 400 <= exc.status < 500:
        st.error(f"The API refused the request ({exc.status}): {exc.detail}", icon=":material/warning:")
    else:
        st.error(f"The API failed while {what} ({exc.status}): {exc.detail}", icon=":material/error:")


def _truthy(value: str | None, default: bool = True) -> bool:
    if value is None:
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


def _clamp_k(value) -> int:
    try:
        k = int(value)
    except (TypeError, ValueError):
        return DEFAULT_K
    return max(1, min(MAX_K, k))


def init_state_from_url() -> None:
    """On a session's first run, the URL's query string fills the form and runs its search."""
    ss = st.session_state
    if ss.get("_inited"):
        return
    ss["_inited"] = True
    qp = st.query_params
    ss["q"] = qp.get("q", "")
    ss["k"] = _clamp_k(qp.get("k", DEFAULT_K))
    ss["council"] = qp.get("council", "") or ""
    ss["document"] = qp.get("document", "") or ""
    ss["decisions"] = qp.get("kind", "") == "decision"
    view = (qp.get("view") or "").strip().capitalize()
    if view in VIEWS:
        ss["view"] = view
    ss["_nonce"] = 0
    if ss["q"].strip():
        start_search(infer=_truthy(qp.get("infer"), True), correct=_truthy(qp.get("correct"), True))


def form_params() -> dict:
    ss = st.session_state
    return {
        "q": (ss.get("q") or "").strip(),
        "k": _clamp_k(ss.get("k", DEFAULT_K)),
        "council": ss.get("council") or None,
        "document": ss.get("document") or None,
        "kind": "decision" if ss.get("decisions") else None,
    }


def start_search(infer: bool = True, correct: bool = True) -> None:
    ss = st.session_state
    ss["_active"] = dict(form_params(), infer=bool(infer), correct=bool(correct))
    ss["_nonce"] = ss.get("_nonce", 0) + 1
    ss["_notice"] = None


# callbacks (run before the script, so they may set widget values)
def on_example(question: str) -> None:
    st.session_state["q"] = question
    start_search(infer=True)


def on_clear_inferred() -> None:
    active = st.session_state.get("_active")
    if active:
        st.session_state["_active"] = dict(active, infer=False)
        st.session_state["_nonce"] = st.session_state.get("_nonce", 0) + 1


def on_search_as_typed() -> None:
    active = st.session_state.get("_active")
    if active:
        st.session_state["_active"] = dict(active, correct=False)
        st.session_state["_nonce"] = st.session_state.get("_nonce", 0) + 1


def on_search_report(doc_id: str, council: str) -> None:
    st.session_state["document"] = doc_id
    st.session_state["council"] = ""
    st.session_state["view"] = "Ask"


def sync_url() -> None:
    """Keep the URL in step with the search shown, so a copied link reproduces it."""
    ss = st.session_state
    want: dict[str, str] = {}
    active = ss.get("_active")
    if active:
        want["q"] = active["q"]
        want["k"] = str(active["k"])
        if active.get("council"):
            want["council"] = active["council"]
        if active.get("document"):
            want["document"] = active["document"]
        if active.get("kind"):
            want["kind"] = active["kind"]
        if not active.get("infer", True):
            want["infer"] = "false"
        if not active.get("correct", True):
            want["correct"] = "false"
    view = ss.get("view")
    if view and view != "Ask":
        want["view"] = view.lower()
    current = {key: st.query_params.get(key) for key in st.query_params.keys()}
    if current != want:
        st.query_params.from_dict(want)


def load_documents(client) -> list[dict] | None:
    ss = st.session_state
    if ss.get("_docs") is not None:
        return ss["_docs"]
    try:
        docs = client.documents()
    except ApiUnavailable as exc:
        show_unavailable(exc)
        return None
    except ApiError as exc:
        show_api_error(exc, "listing the reports")
        return None
    ss["_docs"] = docs
    return docs


def load_health(client) -> dict | None:
    ss = st.session_state
    if ss.get("_health") is None:
        try:
            ss["_health"] = client.health()
        except (ApiUnavailable, ApiError):
            return None
    return ss["_health"]


def run_active_search(client) -> tuple[dict | None, Exception | None]:
    """The active search's result, fetched once per search (reruns reuse it)."""
    ss = st.session_state
    active = ss.get("_active")
    if not active:
        return None, None
    sig = (ss.get("_nonce", 0), tuple(sorted(active.items())))
    cached = ss.get("_result")
    if cached and cached[0] == sig:
        return cached[1], cached[2]
    result, error = None, None
    with st.spinner("Searching the reports…"):
        try:
            result = client.search(**active)
        except (ApiUnavailable, ApiError) as exc:
            error = exc
    ss["_result"] = (sig, result, error)
    return result, error


def page_image(client, url: str) -> bytes:
    cache = st.session_state.setdefault("_images", {})
    if url not in cache:
        if len(cache) > 12:
            cache.clear()
        cache[url] = client.page_image(url)
    return cache[url]


# ---------------------------------------------------------------------------- rendering
def render_passage(client, passage: dict, key_prefix: str) -> None:
    with st.container(border=True):
        st.markdown(render.citation_html(passage), unsafe_allow_html=True)
        st.markdown(render.highlighted_html(passage), unsafe_allow_html=True)
        also = render.also_on_label(passage.get("also_on_pages"))
        if also:
            st.caption(f"The same passage also appears on {also}.")
        answer_page = passage.get("answer_page") or passage.get("page_start")
        with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
            show = st.toggle(f"View page {answer_page}", key=f"{key_prefix}_img")
            if passage.get("url"):
                st.link_button(f"Open PDF at p. {answer_page}", public_url(passage["url"]),
                               icon=":material/open_in_new:", icon_position="right")
        if show:
            image_url = passage.get("page_image_url")
            if not image_url:
                st.caption("No page image for this passage.")
            else:
                try:
                    st.image(page_image(client, image_url), width="stretch",
                             caption=f"{render.citation_parts(passage)[0]}, page {answer_page}")
                except ApiUnavailable as exc:
                    show_unavailable(exc)
                except ApiError as exc:
                    st.warning(f"The page image is not available ({exc.status}): {exc.detail}")
        st.caption("Copy citation")
        st.code(render.citation_text(passage), language=None, wrap_lines=True)


def render_result(client, result: dict) -> None:
    ss = st.session_state
    nonce = ss.get("_nonce", 0)
    passages = sorted(result.get("passages") or [], key=lambda p: p.get("rank", 0))
    spelling = result.get("spelling")
    if spelling and spelling.get("question"):
        with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
            if spelling.get("searched"):
                st.markdown(render.spelling_html("Showing passages for:", spelling), unsafe_allow_html=True)
                st.button("Search as typed", key="as_typed",
                          on_click=on_search_as_typed, icon=":material/undo:")
            else:
                st.markdown(render.spelling_html("Did you mean:", spelling), unsafe_allow_html=True)
                st.button("Search for this instead", key="use_spelling", on_click=on_example,
                          args=(spelling["question"],), icon=":material/spellcheck:")
    inferred = (result.get("inferred") or {}).get("council")
    if inferred:
        with st.container(border=False):
            st.info(f"Searching {inferred} first (inferred from your question)", icon=":material/account_balance:")
            st.button("Clear: search all councils", key="clear_inferred", on_click=on_clear_inferred,
                      icon=":material/close:")
    expansions = render.expansions_label(result.get("expansions"))
    if expansions:
        st.caption(f"Also searched for: {expansions}")
    if result.get("words") == []:
        # "what is it", "???": search leaves out words such as these, so nothing is left to look for
        st.warning("Your question names nothing to look for in the reports: words such as \"what\", \"is\" "
                   "and \"it\" are not searched. Say what you are asking about, for example \"What is a MASH?\"",
                   icon=":material/help:")
        return
    missing = render.missing_words_label(result.get("missing_words"))
    if missing:
        st.caption(missing)

    if not passages:
        st.info("No passages found. Try other words, or remove the filters.", icon=":material/search_off:")
        return
    if result.get("answered", True):
        n = len(passages)
        st.caption(f"{n} passage{'s' if n != 1 else ''} from the reports, best first. "
                   "The marked sentence is the one that answers.")
        for p in passages:
            render_passage(client, p, f"r{nonce}_{p.get('rank')}")
    else:
        st.warning("The reports do not appear to answer this question. "
                   "OnRecord only quotes the reports, so it gives no answer of its own.", icon=":material/search_off:")
        with st.expander(f"Nearest passages (low confidence): {len(passages)}", expanded=False):
            st.caption("Low confidence: these are the closest passages found; they may not answer the question.")
            for p in passages:
                render_passage(client, p, f"l{nonce}_{p.get('rank')}")


def render_ask(client, docs: list[dict] | None) -> None:
    ss = st.session_state
    docs = docs or []
    councils = sorted({d.get("council") for d in docs if d.get("council")})
    council_opts = [""] + councils
    if ss.get("council") and ss["council"] not in council_opts:
        council_opts.append(ss["council"])
    doc_titles = {d["id"]: f"{d.get('title') or d.get('file')} ({d.get('council', '')})" for d in docs if d.get("id")}
    doc_opts = [""] + list(doc_titles)
    if ss.get("document") and ss["document"] not in doc_opts:
        doc_opts.append(ss["document"])

    with st.form("ask", border=True, enter_to_submit=True):
        st.text_input("Your question", key="q", placeholder="e.g. What did Telford decide on taxi licensing?")
        c1, c2, c3 = st.columns([2, 3, 1])
        with c1:
            st.selectbox("Council", council_opts, key="council",
                         format_func=lambda v: v or "All councils")
        with c2:
            st.selectbox("Report", doc_opts, key="document",
                         format_func=lambda v: doc_titles.get(v, v) if v else "All reports")
        with c3:
            st.number_input("Passages", min_value=1, max_value=MAX_K, step=1, key="k")
        c4, c5 = st.columns([3, 1])
        with c4:
            st.toggle("Decisions only", key="decisions",
                      help="Only passages that record a decision, resolution or recommendation.")
        with c5:
            submitted = st.form_submit_button("Search", type="primary", width="stretch")

    if submitted:
        if not (ss.get("q") or "").strip():
            ss["_active"] = None
            ss["_notice"] = "empty"
        else:
            start_search(infer=True)

    if ss.get("_notice") == "empty":
        st.warning("Type a question first, for example one of those below.", icon=":material/edit:")

    active = ss.get("_active")
    if not active:
        st.markdown("**Try a question**")
        for i, example in enumerate(EXAMPLES):
            st.button(example, key=f"example_{i}", on_click=on_example, args=(example,),
                      icon=":material/arrow_forward:")
        return

    result, error = run_active_search(client)
    if isinstance(error, ApiUnavailable):
        show_unavailable(error)
    elif isinstance(error, ApiError):
        show_api_error(error, "searching")
    elif result is not None:
        render_result(client, result)


def render_reports(client, docs: list[dict] | None) -> None:
    if docs is None:
        st.caption("The list of reports comes from the API.")
        return
    if not docs:
        st.info("No reports are indexed yet. Run `onrecord ingest` (or `make run`) to build the index.")
        return
    needle = st.text_input("Find a report", key="reports_filter", placeholder="title, council or file name")
    matching = docs
    if needle.strip():
        n = needle.strip().lower()
        matching = [d for d in docs if any(n in str(d.get(f) or "").lower()
                                           for f in ("title", "council", "council_full", "file"))]
    shown = first_of(matching, "reports", needle, REPORTS_SHOWN)
    st.caption(f"{len(docs)} reports are indexed. OnRecord searches only these."
               + (f" {len(matching)} match “{needle.strip()}”." if matching is not docs else "")
               + (f" Showing {len(shown):,} of {len(matching):,}." if len(matching) > len(shown) else ""))
    for d in shown:
        with st.container(border=True):
            title = html.escape(d.get("title") or d.get("file") or "Untitled report")
            meta = [d.get("council_full") or d.get("council"), d.get("body"),
                    render.format_date(d.get("date")) or "date not stated"]
            pages = d.get("page_count")
            if pages is not None:
                meta.append(f"{pages} page{'s' if pages != 1 else ''}")
            meta_html = " \u00b7 ".join(html.escape(str(m)) for m in meta if m)
            st.markdown(f'<div class="or-cite"><span class="or-title">{title}</span><br>'
                        f'<span class="or-meta">{meta_html}</span></div>', unsafe_allow_html=True)
            if d.get("description"):
                st.markdown(f'<div class="or-small">{render.escape_text(d["description"])}</div>',
                            unsafe_allow_html=True)
            files = [d.get("file")] + list(d.get("also_files") or [])
            st.caption("File: " + ", ".join(f for f in files if f))
            with st.container(horizontal=True, gap="medium"):
                st.link_button("Open PDF", public_url(d.get("url") or f"/documents/{d.get('id')}/file"),
                               icon=":material/open_in_new:", icon_position="right")
                st.button("Search this report", key=f"search_doc_{d.get('id')}", on_click=on_search_report,
                          args=(d.get("id"), d.get("council") or ""))
    show_more(len(matching), len(shown), "reports", REPORTS_SHOWN)


def first_of(items: list, key: str, filters, step: int) -> list:
    """The first of a long list, `step` more after each "Show more"; from the first again when the filters change."""
    ss = st.session_state
    if ss.get(f"_{key}_for") != filters:
        ss[f"_{key}_for"], ss[f"{key}_shown"] = filters, step
    return items[:ss.get(f"{key}_shown", step)]


def show_more(total: int, shown: int, key: str, step: int) -> None:
    if total > shown and st.button(f"Show {min(step, total - shown):,} more", key=f"{key}_more"):
        st.session_state[f"{key}_shown"] = shown + step
        st.rerun()


def render_glossary(client, docs: list[dict] | None) -> None:
    ss = st.session_state
    councils = sorted({d.get("council") for d in (docs or []) if d.get("council")})
    c1, c2 = st.columns([1, 1])
    with c1:
        council = st.selectbox("Council", [""] + councils, key="gloss_council",
                               format_func=lambda v: v or "All councils")
    with c2:
        needle = st.text_input("Find a term", key="gloss_filter", placeholder="e.g. MASH")
    cache = ss.setdefault("_glossary", {})
    if council not in cache:
        try:
            cache[council] = client.glossary(council or None)
        except ApiUnavailable as exc:
            show_unavailable(exc)
            return
        except ApiError as exc:
            show_api_error(exc, "loading the glossary")
            return
    terms = cache[council]
    if needle:
        n = needle.strip().lower()
        terms = [t for t in terms if n in (t.get("term") or "").lower() or n in (t.get("expansion") or "").lower()]
    if not terms:
        st.info("No glossary terms found." if not needle else f"No term matches “{needle}”.")
        return
    ordered = sorted(terms, key=lambda t: ((t.get("term") or "").lower(), (t.get("document") or {}).get("title") or ""))
    shown = first_of(ordered, "gloss", (council, needle), GLOSSARY_SHOWN)
    st.caption("Abbreviations as the reports themselves define them, quoted with their page."
               + (f" Showing {len(shown):,} of {len(terms):,}: type in “Find a term” to narrow them."
                  if len(terms) > len(shown) else ""))
    for t in shown:
        doc = t.get("document") or {}
        cite = ", ".join(x for x in (f"\u201c{doc.get('title') or doc.get('file') or ''}\u201d",
                                     doc.get("council") or "", render.format_date(doc.get("date")),
                                     render.pages_label(t.get("page"))) if x and x != "\u201c\u201d")
        link = ""
        if t.get("url"):
            link = (f' \u00b7 <a href="{html.escape(public_url(t["url"]), quote=True)}" target="_blank" '
                    f'rel="noopener">open p. {html.escape(str(t.get("page", "")))} ↗</a>')
        st.markdown(
            f'<div class="or-term"><div class="or-cite"><span class="or-title">{html.escape(t.get("term") or "")}</span>'
            f' \u2014 {html.escape(t.get("expansion") or "")}</div>'
            f'{render.quote_html(t.get("quote") or "")}'
            f'<div class="or-small">{html.escape(cite)}{link}</div></div>',
            unsafe_allow_html=True)
    show_more(len(ordered), len(shown), "gloss", GLOSSARY_SHOWN)


# ---------------------------------------------------------------------------- page
def main() -> None:
    st.set_page_config(page_title="OnRecord", page_icon="📄", layout="centered")
    st.html(CSS)
    init_state_from_url()
    client = get_client()

    st.title("OnRecord")
    st.caption("OnRecord quotes the council reports: it finds the passages that answer your question and "
               "cites each to its page. It never writes an answer of its own.")

    docs = load_documents(client)

    tabs = st.tabs(VIEWS, key="view", on_change="rerun")
    with tabs[0]:
        render_ask(client, docs)
    with tabs[1]:
        if tabs[1].open:
            render_reports(client, docs)
    with tabs[2]:
        if tabs[2].open:
            render_glossary(client, docs)

    health = load_health(client) if docs is not None else None
    if health:
        built = str(health.get("built_at") or "?")[:16].replace("T", " ")
        st.divider()
        st.caption(f"Index: {health.get('documents', '?')} reports, {health.get('chunks', '?')} passages, "
                   f"built {built} · API {API_URL}")
    sync_url()


main()
