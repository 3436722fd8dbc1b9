"""Pure formatting for the page: citations, page labels, the highlighted passage.

No Streamlit here, so every function is easy to test. Report text is always
HTML-escaped before markup is added: the page shows the reports' own words, and
only the <mark> around the answer is ours.
"""
from __future__ import annotations

import datetime as _dt
import html
import re
from typing import Any, Iterable

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]


def format_date(value: str | None) -> str:
    """'2016-03-12' -> '12 March 2016'; '2016-03' -> 'March 2016'; anything else as given."""
    if not value:
        return ""
    text = str(value).strip()
    try:
        d = _dt.date.fromisoformat(text[:10])
        return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"
    except ValueError:
        pass
    m = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if m and 1 <= int(m.group(2)) <= 12:
        return f"{_MONTHS[int(m.group(2)) - 1]} {m.group(1)}"
    return text


def pages_label(page_start: int | None, page_end: int | None = None) -> str:
    """'p. 12' for one page, 'pp. 12–13' for a range (en dash)."""
    if page_start is None:
        return ""
    if page_end is None or page_end == page_start:
        return f"p. {page_start}"
    lo, hi = sorted((int(page_start), int(page_end)))
    return f"pp. {lo}\u2013{hi}"


def also_on_label(also: Iterable[dict] | None) -> str:
    labels = [pages_label(a.get("page_start"), a.get("page_end")) for a in (also or [])]
    return ", ".join(x for x in labels if x)


def citation_parts(passage: dict) -> tuple[str, str, str, str]:
    doc = passage.get("document") or {}
    return (doc.get("title") or doc.get("file") or "Untitled report",
            doc.get("council") or "",
            format_date(doc.get("date")),
            pages_label(passage.get("page_start"), passage.get("page_end")))


def citation_text(passage: dict) -> str:
    """The plain citation a person pastes into an email: title, council, date, page."""
    title, council, date, pages = citation_parts(passage)
    parts = [f"\u201c{title}\u201d"] + [p for p in (council, date, pages) if p]
    answer_page = passage.get("answer_page")
    start, end = passage.get("page_start"), passage.get("page_end")
    if answer_page is not None and start is not None and end is not None and start != end:
        parts.append(f"answer on p. {answer_page}")
    return ", ".join(parts)


def citation_html(passage: dict) -> str:
    title, council, date, pages = citation_parts(passage)
    dot = " \u00b7 "
    meta = dot.join(html.escape(p) for p in (council, date) if p)
    badge = ' <span class="or-badge">Decision</span>' if passage.get("kind") == "decision" else ""
    rank = passage.get("rank")
    rank_html = f'<span class="or-rank">{int(rank)}</span>' if isinstance(rank, int) else ""
    return (f'<div class="or-cite">{rank_html}<span class="or-title">{html.escape(title)}</span>'
            f'<br><span class="or-meta">{meta}{dot if meta else ""}'
            f'<span class="or-pages">{html.escape(pages)}</span></span>{badge}</div>')


_ESCAPES = {ord(c): f"&#{ord(c)};" for c in "<>&\"'$*_`~[]#\\:|"}


def escape_text(text: str) -> str:
    # One pass over the characters: escape HTML, and keep the markdown renderer from
    # reading report text as markup ($ maths, leading '#', '*' emphasis, :emoji:...).
    out = (text or "").replace("\r\n", "\n").translate(_ESCAPES)
    out = re.sub(r"\n{2,}", "<br><br>", out)
    return out.replace("\n", " ")


def answer_bounds(passage: dict) -> tuple[int, int] | None:
    """Start/end of the answer in the passage text, or None if the offsets don't hold."""
    text = passage.get("text") or ""
    start, end = passage.get("answer_start"), passage.get("answer_end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
        return start, end
    answer = passage.get("answer") or ""
    if answer:
        i = text.find(answer)
        if i >= 0:
            return i, i + len(answer)
    return None


def highlighted_html(passage: dict) -> str:
    """The passage text, escaped, with text[answer_start:answer_end] inside <mark>; one line of HTML."""
    text = passage.get("text") or ""
    bounds = answer_bounds(passage)
    if bounds is None:
        body = escape_text(text)
    else:
        s, e = bounds
        body = (escape_text(text[:s]) + '<mark class="or-answer">' + escape_text(text[s:e]) + "</mark>"
                + escape_text(text[e:]))
    return f'<div class="or-passage">{body}</div>'


def quote_html(quote: str) -> str:
    return f'<div class="or-quote">\u201c{escape_text(quote or "")}\u201d</div>'


def spelling_html(lead: str, spelling: dict[str, Any] | None) -> str:
    """'Did you mean: operation <b>chalice</b>' for the API's spelling correction, the corrected words in bold;
    '' when there is none."""
    question = (spelling or {}).get("question") or ""
    if not question.strip():
        return ""
    corrected = {(c.get("suggested") or "").lower() for c in spelling.get("corrections") or []}
    parts = []
    for piece in re.split(r"([A-Za-z]+)", question):
        escaped = escape_text(piece)
        parts.append(f"<b>{escaped}</b>" if piece.lower() in corrected and piece else escaped)
    return f'<div class="or-spelling">{escape_text(lead)} {"".join(parts)}</div>'


def missing_words_label(words: Iterable[str] | None) -> str:
    """'Not in any report: "kids", "brum"': the question's words no report holds; '' when there are none."""
    shown = [w.strip() for w in words or [] if w and w.strip()]
    return "Not in any report: " + ", ".join(f'"{w}"' for w in shown) if shown else ""


def expansions_label(expansions: Iterable[dict[str, Any]] | None) -> str:
    """'MASH = Multi-Agency Safeguarding Hub; ...': one entry per term and meaning, variants
    differing only in case, hyphens or spacing shown once."""
    seen: set[tuple[str, str]] = set()
    items = []
    for e in expansions or []:
        term, expansion = (e.get("term") or "").strip(), " ".join((e.get("expansion") or "").split())
        if not term or not expansion:
            continue
        norm = (term.lower(), re.sub(r"[\s\-\u2010-\u2015]+", " ", expansion.lower()))
        if norm in seen:
            continue
        seen.add(norm)
        items.append(f"{term} = {expansion}")
    return "; ".join(items)
