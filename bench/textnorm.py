"""English text normalisation for WER: both the reference transcript and the ASR output go through
the same scheme before alignment, and the scheme is part of the WER metric's id.

- `en` (the suite's default), in this order:
  1. Unicode NFKC, lower case; curly apostrophes become ';
  2. bracketed asides - [...] and (...) - are removed;
  3. thousands separators inside numbers go (1,000 -> 1000);
  4. a space is put at every letter/digit boundary (F2 -> f 2, 3rd -> 3 rd);
  5. every character that is not a letter, a digit, an apostrophe or whitespace becomes a space
     (so hyphenated words split: well-known -> well known), then apostrophes that do not sit
     between two letters are dropped (the speakers' -> the speakers, don't stays);
  6. integers 0-999 are spelled out (2 -> two, 42 -> forty two, 305 -> three hundred five);
     longer digit strings stay as digits;
  7. whitespace is collapsed.
  No spelling standardisation, no contraction expansion, fillers kept (an "um" is an error).
- `seedtts`: seed-tts-eval's English rules (PROTOCOLS.md §9): ASCII punctuation except the
  apostrophe removed, double spaces collapsed, lower case.
- `whisper`: openai-whisper's EnglishTextNormalizer (needs the `openai-whisper` package): also
  expands contractions, removes fillers, standardises numbers and British spellings.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable
from functools import cache

from bench.errors import ConfigError

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def spell_integer(n: int) -> str:
    """0-999 in words, without "and" (305 -> three hundred five)."""
    if not 0 <= n <= 999:
        raise ValueError(n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    rest = n % 100
    return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + spell_integer(rest))


def _en(text: str) -> str:
    s = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'").replace("\u2018", "'")
    s = re.sub(r"\[[^\]]*\]|\([^)]*\)", " ", s)
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)
    s = re.sub(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])", " ", s)
    s = re.sub(r"[^\w\s']|_", " ", s)
    s = re.sub(r"(?<![^\W\d_])'|'(?![^\W\d_])", " ", s)
    s = re.sub(r"\b\d{1,3}\b", lambda m: spell_integer(int(m.group())), s)
    return " ".join(s.split())


_SEEDTTS_PUNCT = re.compile("[" + re.escape(string.punctuation.replace("'", "")) + "]")


def _seedtts(text: str) -> str:
    s = _SEEDTTS_PUNCT.sub("", text)
    return s.replace("  ", " ").lower().strip()


@cache
def _whisper() -> Callable[[str], str]:
    try:
        from whisper.normalizers import EnglishTextNormalizer
    except ImportError as exc:
        raise ConfigError("text normalisation 'whisper' needs `pip install openai-whisper`") from exc
    return EnglishTextNormalizer()


SCHEMES: dict[str, Callable[[str], str]] = {"en": _en, "seedtts": _seedtts, "whisper": lambda t: _whisper()(t)}


def normalise(text: str, scheme: str = "en") -> str:
    if scheme not in SCHEMES:
        raise ConfigError(f"unknown text normalisation '{scheme}'; known: {', '.join(SCHEMES)}")
    return SCHEMES[scheme](text)
