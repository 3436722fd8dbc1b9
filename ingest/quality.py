"""Is a text layer real words, or garbage that only looks like text?

PDFs whose fonts carry no map from glyphs to characters (no ToUnicode, a custom
encoding) give text out that is not the words on the page: shifted letters
("7KH\\x03&RXQFLO" for "The Council"), control characters, or runs of symbols. Such
text would be indexed and never match a question, so it is caught here and the file
(or page) is reported with the one remedy that works: OCR.

The tests are cheap and conservative; each needs a sample big enough to judge
(short pages are not judged), and a page is only flagged by a clear failure:
  - too many control, private-use or unassigned characters;
  - too few letters and digits among the printed characters (runs of symbols);
  - for Latin-script text: a share of vowels far outside any real language's
    (about 0.35-0.45 in English, French, German, Welsh), or almost no common short
    words ("the", "of", "and", "y", "le", "der", ...) among many words.
Scripts written without spaces (CJK, Thai) are judged only by the first two tests.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MIN_CHARS = 200          # printed characters needed to judge a text at all
MIN_WORDS = 100          # Latin words needed for the common-word test
MAX_BAD_CHAR_SHARE = 0.05
MIN_ALNUM_SHARE = 0.5
VOWEL_SHARE = (0.22, 0.62)
MIN_COMMON_WORD_SHARE = 0.01

_WORDS = re.compile(r"[^\W\d_]+")
_VOWELS = set("aeiouy")
# Short function words of English, Welsh, French, German, Spanish, Dutch, Italian, Portuguese.
COMMON_WORDS = frozenset("""
a an and are as at be by for from has have in is it its not of on or that the this to was were will with
y yr ac i o yn ar ei gan mae bod am wedi ni fe eu hyn
le la les de des du et un une est en pour que qui dans par sur au aux
der die das und ist ein eine zu den von mit nicht im auf dem sich
el los las del y que por con para una es se
het een van en niet op te
il di che per non con gli
o os da do das dos em para com uma
""".split())


@dataclass(frozen=True)
class Verdict:
    garbled: bool
    why: str = ""


def _latin(ch: str) -> bool:
    return "LATIN" in unicodedata.name(ch, "")


def judge(text: str) -> Verdict:
    """Whether `text` looks like a garbled text layer; texts too short to judge pass."""
    printed = [c for c in text if not c.isspace()]
    if len(printed) < MIN_CHARS:
        return Verdict(False)
    bad = sum(1 for c in printed if c == "\ufffd" or unicodedata.category(c) in ("Cc", "Cf", "Co", "Cn", "Cs"))
    if bad / len(printed) > MAX_BAD_CHAR_SHARE:
        return Verdict(True, f"{bad / len(printed):.0%} control or unmapped characters")
    alnum = sum(1 for c in printed if c.isalnum())
    if alnum / len(printed) < MIN_ALNUM_SHARE:
        return Verdict(True, f"only {alnum / len(printed):.0%} letters or digits")
    letters = [c for c in printed if c.isalpha()]
    latin = [c for c in letters if _latin(c)]
    if len(latin) < MIN_CHARS or len(latin) < len(letters) / 2:
        return Verdict(False)  # mostly another script: judged by the tests above only
    plain = [unicodedata.normalize("NFKD", c)[0].lower() for c in latin]
    vowels = sum(1 for c in plain if c in _VOWELS) / len(plain)
    if not VOWEL_SHARE[0] <= vowels <= VOWEL_SHARE[1]:
        return Verdict(True, f"{vowels:.0%} vowels among the letters")
    words = [w.lower() for w in _WORDS.findall(text)]
    if len(words) >= MIN_WORDS:
        common = sum(1 for w in words if w in COMMON_WORDS) / len(words)
        if common < MIN_COMMON_WORD_SHARE:
            return Verdict(True, "almost no common words")
    return Verdict(False)
