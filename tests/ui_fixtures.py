"""Canned API responses shaped exactly like docs/http-contract.md, shared by the UI tests.

Used by tests/test_ui.py (a fake client object) and tests/test_browser.py (a fake HTTP API).
Nothing here imports api/, retriever/ or eval/.
"""
from __future__ import annotations

import copy

TELFORD = {"id": "telford-cabinet", "file": "telford-wrekin-2018-03-29-cabinet-tackling-cse-together.pdf",
           "title": "Tackling Child Sexual Exploitation Together", "council": "Telford & Wrekin",
           "date": "2018-03-29"}
WOLVES = {"id": "wolves-review", "file": "wolverhampton-2016-04-scrutiny-review-cse.pdf",
          "title": "Scrutiny Review of Child Sexual Exploitation", "council": "Wolverhampton",
          "date": "2016-04"}

TAXI_TEXT = ("Decision Notice. RESOLVED that the Cabinet write to the Minister for Transport calling for "
             "national standards for taxi licensing, so that every hackney carriage and private hire driver "
             "receives training on child sexual exploitation. The meeting ended at 6.06pm <script>x</script>.")
TAXI_ANSWER = ("RESOLVED that the Cabinet write to the Minister for Transport calling for national standards "
               "for taxi licensing, so that every hackney carriage and private hire driver receives training on "
               "child sexual exploitation.")
MASH_TEXT = ("Family Connect is the front door for referrals about children. It is a Multi-Agency Safeguarding "
             "Hub (MASH) where police, health and social care share information.")
MASH_ANSWER = ("It is a Multi-Agency Safeguarding Hub (MASH) where police, health and social care share "
               "information.")


def passage(rank: int, doc: dict, text: str, answer: str, page_start: int, page_end: int | None = None,
            kind: str | None = None, also: list | None = None) -> dict:
    start = text.index(answer)
    page_end = page_start if page_end is None else page_end
    return {"rank": rank, "score": round(1.0 / rank, 3), "text": text, "answer": answer,
            "answer_start": start, "answer_end": start + len(answer), "page_start": page_start,
            "page_end": page_end, "answer_page": page_start, "kind": kind, "also_on_pages": also or [],
            "document": dict(doc), "url": f"/documents/{doc['id']}/file#page={page_start}",
            "page_image_url": f"/documents/{doc['id']}/pages/{page_start}.png"}


def search_response(question: str, *, answered: bool = True, inferred: str | None = None,
                    expansions: list | None = None, passages: list | None = None,
                    spelling: dict | None = None, words: list | None = None,
                    missing_words: list | None = None) -> dict:
    if passages is None:
        passages = [passage(1, TELFORD, TAXI_TEXT, TAXI_ANSWER, 12, kind="decision",
                            also=[{"page_start": 40, "page_end": 41}]),
                    passage(2, TELFORD, MASH_TEXT, MASH_ANSWER, 30, 31)]
    return {"question": question, "answered": answered, "confidence": 0.82 if answered else 0.12,
            "inferred": {"council": inferred}, "expansions": expansions or [], "spelling": spelling,
            "words": question.lower().split() if words is None else words, "missing_words": missing_words or [],
            "passages": passages}


DOCUMENTS = [
    dict(TELFORD, council_full="Telford & Wrekin Council", body="Cabinet",
         description="Cabinet pack for 29 March 2018.", page_count=120, also_files=[],
         url="/documents/telford-cabinet/file"),
    dict(WOLVES, council_full="City of Wolverhampton Council", body="Scrutiny review group",
         description="The scrutiny review group's report.", page_count=44, also_files=[],
         url="/documents/wolves-review/file"),
]

GLOSSARY = [
    {"term": "MASH", "expansion": "Multi-Agency Safeguarding Hub",
     "quote": "It is a Multi-Agency Safeguarding Hub (MASH) where police, health and social care share information.",
     "page": 30, "document": dict(TELFORD), "url": "/documents/telford-cabinet/file#page=30"},
    {"term": "WSCB", "expansion": "Wolverhampton Safeguarding Children Board",
     "quote": "the Wolverhampton Safeguarding Children Board (WSCB)", "page": 7, "document": dict(WOLVES),
     "url": "/documents/wolves-review/file#page=7"},
]

HEALTH = {"status": "ok", "documents": 2, "chunks": 321, "model": "all-MiniLM-L6-v2",
          "built_at": "2026-01-01T00:00:00Z", "abstention": "built-in"}


def documents() -> list[dict]:
    return copy.deepcopy(DOCUMENTS)


def glossary(council: str | None = None) -> list[dict]:
    return [copy.deepcopy(t) for t in GLOSSARY if not council or t["document"]["council"] == council]


def page_png(width: int = 400, height: int = 560) -> bytes:
    """A plain page-shaped PNG (what GET /documents/{id}/pages/{n}.png returns)."""
    import io

    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    for y in range(40, height - 40, 18):
        draw.line((40, y, width - 40, y), fill=(200, 200, 200))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
