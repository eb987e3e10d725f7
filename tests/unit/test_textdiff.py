"""The word-level diff kept with each revision: counts, a bounded excerpt, bounded cost."""

from __future__ import annotations

import random
import time

from storage import textdiff
from storage.textdiff import changes, readable_diff, summarize, words

TEXT = "The council met on Monday and voted on the budget for the new river bridge."


def test_a_replaced_word_is_one_added_and_one_removed_in_its_context() -> None:
    s = summarize(TEXT, TEXT.replace("Monday", "Tuesday"))
    assert (s.words_added, s.words_removed) == (1, 1)
    assert s.excerpt == "council met on [-Monday-] {+Tuesday+} and voted on"


def test_insertions_deletions_and_passages_in_text_order() -> None:
    new = "Breaking: " + TEXT.replace("the new river ", "a ") + " More follows."
    s = summarize(TEXT, new)
    assert (s.words_added, s.words_removed) == (1 + 1 + 2, 3)
    assert s.excerpt == (
        "{+Breaking:+} The council met ... the budget for [-the new river-] {+a+} bridge. ... "
        "new river bridge. {+More follows.+}"
    )
    # the old text's word positions, first word 1
    assert readable_diff(TEXT, new)[1] == (
        "word 12: and voted on the budget for [-the new river-] {+a+} bridge."
    )


def test_the_same_text_has_no_changes_and_whitespace_is_not_a_word() -> None:
    assert summarize(TEXT, "  " + TEXT.replace(" ", "\n  ")) == textdiff.DiffSummary(0, 0, "")
    assert readable_diff(TEXT, TEXT) == []
    assert summarize(None, TEXT).words_added == len(words(TEXT))


def test_the_excerpt_is_bounded_however_many_and_long_the_changes() -> None:
    old = [f"w{i}" for i in range(2000)]
    new = list(old)
    for at in range(0, 2000, 40):  # 50 edits
        new[at] = "EDITED"
    new[1010:1010] = ["inserted"] * 500
    s = summarize(" ".join(old), " ".join(new))
    assert (s.words_added, s.words_removed) == (550, 50)
    assert len(s.excerpt) <= textdiff.EXCERPT_CHARS
    assert s.excerpt.count("{+") == textdiff.EXCERPT_PASSAGES
    lines = readable_diff(" ".join(old), " ".join(new), max_passages=5)
    assert len(lines) == 6 and lines[-1] == "... 46 more changed passages"


def test_long_texts_cost_little_and_a_huge_middle_is_replaced_whole() -> None:
    rng = random.Random(7)
    vocabulary = [f"v{i}" for i in range(300)]
    long = [rng.choice(vocabulary) for _ in range(200_000)]
    edited = [*long[:120_000], "corrected", *long[120_001:]]
    started = time.perf_counter()
    s = summarize(" ".join(long), " ".join(edited))
    assert (s.words_added, s.words_removed) == (1, 1)
    # two unrelated long texts: matched only up to MAX_MATCHED_WORDS, then replaced whole
    other = [rng.choice(vocabulary) for _ in range(textdiff.MAX_MATCHED_WORDS + 1)]
    whole = changes(long[:50_000], other)
    assert len(whole) == 1 and (len(whole[0].removed), len(whole[0].added)) == (50_000, len(other))
    assert time.perf_counter() - started < 5
