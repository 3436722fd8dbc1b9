"""Turning a question into a safe FTS5 query, and word-level overlap used for answer spans."""
from __future__ import annotations

import re
from functools import lru_cache

STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
him his how i if in into is it its itself just me more most my no nor not now of off on once only or other our
out over own same she should so some such than that the their them then there these they this those through to
too under until up very was we were what when where which while who whom why will with would you your
tell show give find please say says said
don't doesn't didn't isn't aren't wasn't weren't won't wouldn't can't cannot couldn't shouldn't hasn't haven't
hadn't mustn't needn't
anyone anything anybody someone something somebody everyone everything everybody nobody nothing whether
go goes going gone get gets getting got actually really also
""".split())
# The last four lines: a question's frame in plain speech ("why don't victims tell anyone", "is Telford going
# to", "who keeps an eye on whether ... actually ..."). Formal reports seldom use these words, so their IDF
# ranks them above the words that carry the question.
# Contractions typed without their apostrophe, as people type in a search box ("dont", "im", "thats"). Those that
# spell an everyday word are left out ("ill", "id", "well", "were", "wed", "shell", "hell", "lets"); "cant" and
# "wont" are in, as words they are rare. Those whose apostrophe form is a stop word ("don't"; "that's" is "that"
# once its "'s" goes) are stop words too.
_APOSTROPHE_LESS_STOPWORDS = frozenset("""
dont doesnt didnt isnt arent wasnt werent wont wouldnt cant couldnt shouldnt hasnt havent hadnt mustnt neednt
thats whats theres heres hes shes whos
""".split())
APOSTROPHE_LESS_CONTRACTIONS = _APOSTROPHE_LESS_STOPWORDS | frozenset("""
im ive youre youve youd youll weve theyre theyve theyd theyll whod whove shouldve wouldve couldve
""".split())
STOPWORDS |= _APOSTROPHE_LESS_STOPWORDS
_POSSESSIVE = re.compile(r"'s\b")
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")


def _content_word(token: str) -> str | None:
    """A question token as a search word (lower-cased, no possessive), or None for a stopword or a lone letter."""
    word = re.sub(r"'s$", "", token.lower().replace("’", "'"))
    return word if (word not in STOPWORDS and len(word) > 1) or word.isdigit() else None


def query_terms(question: str) -> list[str]:
    """Content words of a question, lower-cased, in order, without repeats."""
    seen: dict[str, None] = {}
    for word in map(_content_word, _TOKEN.findall(question)):
        if word is not None:
            seen.setdefault(word, None)
    return list(seen)


def query_bigrams(question: str) -> list[tuple[str, str]]:
    """Pairs of content words that stand next to each other in the question, lower-cased, no repeats."""
    pairs: dict[tuple[str, str], None] = {}
    previous = None
    for word in map(_content_word, _TOKEN.findall(question)):
        if previous is not None and word is not None and previous != word:
            pairs.setdefault((previous, word), None)
        previous = word
    return list(pairs)


def fts_phrase(term: str) -> str:
    """A term as one quoted FTS5 phrase: user text never becomes query syntax."""
    return '"' + term.replace('"', '""') + '"'


def fts_match(terms: list[str]) -> str:
    """An FTS5 MATCH expression built only from quoted terms, OR-ed."""
    return " OR ".join(fts_phrase(t) for t in terms if t)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix stripper, enough to match 'decided' with 'decision'-free forms like 'decide'."""
    word = word.lower()
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ied", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def stems(text: str) -> set[str]:
    """Stems of the content words of a text (each distinct word stemmed once: this runs per candidate)."""
    lowered = _POSSESSIVE.sub("", text.lower().replace("’", "'"))
    return {stem(w) for w in set(_TOKEN.findall(lowered)) if (w not in STOPWORDS and len(w) > 1) or w.isdigit()}
