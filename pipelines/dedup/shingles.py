"""Normalisation and shingling for near-duplicate detection, across scripts.

- Latin, Cyrillic, Greek and other spaced scripts: Unicode words (the ``regex`` module's ``\\w``,
  which keeps combining marks and Devanagari vowel signs inside words), word n-grams.
- Arabic script (Arabic, Persian, Urdu): diacritics and tatweel removed, alef / yeh / kaf / heh
  variants folded, then character n-grams with spaces and ZWNJ removed, because Persian writes
  the same compound with a ZWNJ, a space or nothing.
- Chinese and Japanese (no spaces): character n-grams over letters and digits.
- Look-alike letters from other scripts (Cyrillic "а" for Latin "a", Greek "ο" for "o": a way to
  dodge filters) are folded to the Latin letter they imitate, from the Unicode confusables data
  (the ``confusable_homoglyphs`` package), before anything else.

The scheme is chosen per document from its dominant script; shingles of different schemes never
meet (their hashes are salted with the scheme name).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import regex
import xxhash

# Arabic harakat, superscript alef, Quranic marks; tatweel.
_ARABIC_MARKS_RE = regex.compile(r"[\u064B-\u065F\u0670\u06D6-\u06ED\u0640]")
_ARABIC_FOLD = str.maketrans(
    {
        "\u0623": "\u0627",  # أ -> ا
        "\u0625": "\u0627",  # إ -> ا
        "\u0622": "\u0627",  # آ -> ا
        "\u0671": "\u0627",  # ٱ -> ا
        "\u0649": "\u064a",  # ى -> ي
        "\u06cc": "\u064a",  # Persian ی -> ي
        "\u06d2": "\u064a",  # Urdu ے -> ي
        "\u06a9": "\u0643",  # Persian ک -> ك
        "\u0629": "\u0647",  # ة -> ه
        "\u06c0": "\u0647",  # ۀ -> ه
        "\u06c1": "\u0647",  # ہ -> ه
        # Hamza seats vary by region for one word (شئون / شؤون, مسئول / مسؤول): one letter.
        "\u0624": "\u0621",  # ؤ -> ء
        "\u0626": "\u0621",  # ئ -> ء
        # Persian and Arabic-Indic digits -> ASCII
        **{chr(0x06F0 + i): str(i) for i in range(10)},
        **{chr(0x0660 + i): str(i) for i in range(10)},
    }
)
_WORD_RE = regex.compile(r"\w+", regex.UNICODE)
_ZWNJ_SPACE_RE = regex.compile(r"[\s\u200c\u200d]+")
_NON_WORD_RE = regex.compile(r"[^\w]+")
_ARABIC_LETTER_RE = regex.compile(r"\p{Script=Arabic}")
# Hash arithmetic on numpy integer arrays wraps modulo 2**64 (or 2**32) silently: that wrap is
# the arithmetic we want. (Only numpy scalars warn on overflow; these are all array operations.)
_MUL = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class Scheme:
    name: str
    unit: str  # "word" or "char"
    n: int  # shingle length in units
    lead: int  # shingles in the lead signature (the start of the text)
    # Units in a word's worth of text (letters of an Arabic or Persian word: 4.5 measured on
    # news; a Chinese word is about 1.6 characters), so that passage lengths compare across
    # schemes.
    units_per_word: float = 1.0


SCHEMES: dict[str, Scheme] = {
    "word": Scheme("word", "word", 4, 100),
    "arabic": Scheme("arabic", "char", 5, 300, units_per_word=4.5),
    "cjk": Scheme("cjk", "char", 3, 300, units_per_word=1.6),
}


@lru_cache(maxsize=1)
def confusable_letters() -> dict[int, str]:
    """Non-ASCII letters that Unicode's confusables data lists as look-alikes of one ASCII
    letter or digit, mapped to it (about 1,200: Cyrillic, Greek, Armenian, Cherokee,
    mathematical and fullwidth forms...). Arabic-script and CJK letters are not in it, so
    their schemes are unaffected; a Russian text folds consistently, so Russian copies still
    match each other."""
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[int, str] = {}
    for char, glyphs in confusables_data.items():
        if len(char) != 1 or char.isascii() or not unicodedata.category(char).startswith("L"):
            continue
        for glyph in glyphs:
            target = glyph["c"]
            if len(target) == 1 and target.isascii() and target.isalnum():
                table[ord(char)] = target.lower()
                break
    return table


@lru_cache(maxsize=1)
def _confusable_table() -> np.ndarray:
    """``confusable_letters`` as a code point lookup table over the BMP (astral look-alikes,
    the mathematical alphabets, are folded by NFKC already)."""
    table = np.arange(0x10000, dtype=np.uint32)
    for cp, target in confusable_letters().items():
        if cp < 0x10000:
            table[cp] = ord(target)
    return table


def fold(text: str) -> str:
    """NFKC, case folded, look-alike letters folded to the ASCII letter they imitate,
    Arabic-script variants folded; punctuation kept (words need it)."""
    return folded_code_points(text).tobytes().decode("utf-32-le", "surrogatepass")


def folded_code_points(text: str) -> np.ndarray:
    """``fold(text)`` as a uint32 code point array (what shingling works on)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if text.isascii():
        return _code_points(text)
    if _ARABIC_LETTER_RE.search(text):
        text = _ARABIC_MARKS_RE.sub("", text).translate(_ARABIC_FOLD)
    return _fold_confusables(_code_points(text))


def _fold_confusables(cps: np.ndarray) -> np.ndarray:
    bmp = cps < 0x10000
    if bool(bmp.all()):
        folded: np.ndarray = _confusable_table()[cps]
        return folded
    out = cps.copy()
    out[bmp] = _confusable_table()[cps[bmp]]
    return out


_ARABIC_RANGES = (
    (0x0600, 0x06FF),
    (0x0750, 0x077F),
    (0x08A0, 0x08FF),
    (0xFB50, 0xFDFF),
    (0xFE70, 0xFEFF),
)
_CJK_RANGES = (
    (0x3040, 0x30FF),
    (0x31F0, 0x31FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3134F),
)


def _in_ranges(cps: np.ndarray, ranges: tuple[tuple[int, int], ...]) -> int:
    hit = np.zeros(len(cps), dtype=bool)
    for lo, hi in ranges:
        hit |= (cps >= lo) & (cps <= hi)
    return int(hit.sum())


def _code_points(folded: str) -> np.ndarray:
    return np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def detect_scheme(text: str) -> Scheme:
    """The dominant script decides: CJK or Arabic-script characters over 30 % of the word
    characters of the text's first 4,000 characters."""
    return _detect(_code_points(text[:4000]))


def _detect(cps: np.ndarray) -> Scheme:
    sample = cps[:4000]
    if len(sample) == 0 or int(sample.max()) < 0x0600:
        return SCHEMES["word"]  # nothing from the Arabic block upwards: a spaced script
    words = int(_word_mask(sample).sum())
    if words == 0:
        return SCHEMES["word"]
    if _in_ranges(sample, _CJK_RANGES) / words > 0.3:
        return SCHEMES["cjk"]
    if _in_ranges(sample, _ARABIC_RANGES) / words > 0.3:
        return SCHEMES["arabic"]
    return SCHEMES["word"]


def units(text: str, scheme: Scheme) -> list[str]:
    """Words, or characters with spaces, ZWNJ and punctuation removed (for tests and debugging:
    ``shingle_hashes`` computes the same units without building strings)."""
    folded = fold(text)
    if scheme.unit == "word":
        return list(_WORD_RE.findall(folded))
    return list(_NON_WORD_RE.sub("", _ZWNJ_SPACE_RE.sub("", folded)))


def _build_word_table() -> np.ndarray:
    # The regex module's Unicode \w, for every BMP code point: \w is a per-code-point property,
    # so a lookup table gives the same words as regex.findall at a fraction of the cost.
    table = np.zeros(0x10000, dtype=bool)
    for cp in range(0x10000):
        if _WORD_RE.match(chr(cp)):
            table[cp] = True
    return table


_WORD_TABLE = _build_word_table()
_JOINERS = (0x200C, 0x200D)  # ZWNJ, ZWJ: \w per UTS #18, but spelling variants for us
_P = 0x100000001B3  # odd, so invertible modulo 2**64
_Q = pow(_P, -1, 1 << 64)
_pow_cache: dict[str, np.ndarray] = {}


_POW_CACHE_MAX = 1 << 20  # code points: news texts; a huge text's powers are not kept


def _powers(base: int, n: int, key: str) -> np.ndarray:
    cached = _pow_cache.get(key)
    if cached is None or len(cached) < n:
        size = max(n, 2 * len(cached) if cached is not None else 4096)
        with np.errstate(over="ignore"):
            arr = np.full(size, base, dtype=np.uint64)
            arr[0] = 1
            powers = np.cumprod(arr, dtype=np.uint64)
        if size > _POW_CACHE_MAX:
            return powers[:n]
        _pow_cache[key] = cached = powers
    return cached[:n]


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads the bits of a 64-bit value."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    mixed: np.ndarray = x ^ (x >> np.uint64(31))
    return mixed


def _word_mask(cps: np.ndarray) -> np.ndarray:
    if len(cps) == 0 or int(cps.max()) < 0x10000:
        mask: np.ndarray = _WORD_TABLE[cps]
        return mask
    mask = _WORD_TABLE[np.minimum(cps, 0xFFFF)]
    for i in np.flatnonzero(cps >= 0x10000):  # astral plane: rare (emoji, historic scripts)
        mask[i] = bool(_WORD_RE.match(chr(int(cps[i]))))
    return mask


def unit_hashes(text: str, scheme: Scheme) -> np.ndarray:
    """One uint64 hash per unit (word or character) of the folded text, in order."""
    return _unit_hashes(folded_code_points(text), scheme)


def _unit_hashes(cps: np.ndarray, scheme: Scheme) -> np.ndarray:
    if len(cps) == 0:
        return np.zeros(0, dtype=np.uint64)
    mask = _word_mask(cps)
    salt = np.uint64(xxhash.xxh64_intdigest(scheme.name.encode()))
    if scheme.unit == "char":
        mask &= ~np.isin(cps, _JOINERS)
        return _mix(cps[mask].astype(np.uint64) ^ salt)
    if len(cps) <= _POW_CACHE_MAX:
        return _word_hashes(cps, mask, salt)
    # A huge text in pieces cut between words (a word's hash does not depend on where it
    # stands): memory stays that of one piece.
    parts = []
    start = 0
    while start < len(cps):
        end = min(start + _POW_CACHE_MAX, len(cps))
        if end < len(cps):
            gaps = np.flatnonzero(~mask[start:end])
            if len(gaps):
                end = start + int(gaps[-1]) + 1
        parts.append(_word_hashes(cps[start:end], mask[start:end], salt))
        start = end
    return np.concatenate(parts)


def _word_hashes(cps: np.ndarray, mask: np.ndarray, salt: np.uint64) -> np.ndarray:
    if len(cps) == 0:
        return np.zeros(0, dtype=np.uint64)
    # Word boundaries from the mask; a word's hash is a polynomial over its code points,
    # computed for all words at once from prefix sums (arithmetic modulo 2**64).
    flags = mask.view(np.int8)
    edges = np.empty(len(flags) + 1, dtype=np.int8)
    edges[0] = flags[0]
    np.subtract(flags[1:], flags[:-1], out=edges[1:-1])
    edges[-1] = -flags[-1]
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)  # exclusive
    if len(starts) == 0:
        return np.zeros(0, dtype=np.uint64)
    n = len(cps)
    weighted = (cps.astype(np.uint64) + np.uint64(1)) * _powers(_Q, n, "q")
    prefix = np.cumsum(weighted, dtype=np.uint64)
    before = np.where(starts > 0, prefix[np.maximum(starts - 1, 0)], np.uint64(0))
    words = (prefix[ends - 1] - before) * _powers(_P, n, "p")[ends - 1]
    # The length goes in too, so that no two different words can collide by construction.
    words = words ^ ((ends - starts).astype(np.uint64) << np.uint64(56))
    return _mix(words ^ salt)


def shingle_hashes(text: str, scheme: Scheme | None = None) -> tuple[Scheme, np.ndarray]:
    """(scheme, uint32 hashes of the text's n-gram shingles in text order, repeats kept)."""
    cps = folded_code_points(text)
    scheme = scheme or _detect(cps)
    hashed = _unit_hashes(cps, scheme)
    count = len(hashed)
    if count == 0:
        return scheme, np.zeros(0, dtype=np.uint32)
    n = min(scheme.n, count)
    acc = hashed[: count - n + 1].copy()
    for k in range(1, n):
        acc = acc * _MUL + hashed[k : count - n + 1 + k]
    return scheme, (_mix(acc) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def unit_spans(text: str, scheme: Scheme) -> tuple[str, np.ndarray]:
    """The folded text and the (start, end) offsets in it of each unit that shingling counts
    (words, or characters for character schemes): to quote a shared passage by its units."""
    cps = folded_code_points(text)
    folded = cps.tobytes().decode("utf-32-le", "surrogatepass")
    mask = _word_mask(cps)
    if scheme.unit == "word":
        # word boundaries from the mask, as shingling finds them (no Python object per word)
        edges = np.diff(np.concatenate([[0], mask.view(np.int8), [0]]))
        return folded, np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=1)
    mask &= ~np.isin(cps, _JOINERS)
    starts = np.flatnonzero(mask)
    return folded, np.stack([starts, starts + 1], axis=1)
