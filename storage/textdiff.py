"""Word-level differences between two versions of an article's text: a bounded summary (words
added and removed, a short excerpt of the changed passages) stored with each revision, and a
readable diff for ``newscrawl history``. Pure functions on strings (no SQL), with Python's
``difflib`` on word lists.

The cost is bounded for long texts: the common first and last words are set aside first (an
edit usually touches a few passages of a long text), and a middle part still longer than
``MAX_MATCHED_WORDS`` words on either side is taken as replaced whole instead of matched
(``difflib`` is quadratic in the worst case)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

#: the longest middle part (after the common start and end) that is matched word by word
MAX_MATCHED_WORDS = 5000
#: the summary's excerpt: at most this many changed passages, words per side, characters
EXCERPT_PASSAGES = 3
EXCERPT_WORDS = 12
EXCERPT_CHARS = 400


@dataclass(frozen=True)
class Change:
    """One changed passage: ``removed`` words of the old text at word ``at`` replaced by
    ``added`` words, with a few words of unchanged text either side."""

    at: int
    removed: tuple[str, ...]
    added: tuple[str, ...]
    before: tuple[str, ...]
    after: tuple[str, ...]


@dataclass(frozen=True)
class DiffSummary:
    words_added: int
    words_removed: int
    excerpt: str


def words(text: str | None) -> list[str]:
    return (text or "").split()


def _middle_opcodes(
    old: Sequence[str], new: Sequence[str]
) -> Iterator[tuple[str, int, int, int, int]]:
    if len(old) > MAX_MATCHED_WORDS or len(new) > MAX_MATCHED_WORDS:
        yield ("replace", 0, len(old), 0, len(new))
        return
    yield from SequenceMatcher(None, old, new, autojunk=False).get_opcodes()


def changes(old: Sequence[str], new: Sequence[str], context: int = 4) -> list[Change]:
    """The changed passages from ``old`` to ``new`` (word lists), in text order."""
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    mid_old = old[prefix : len(old) - suffix]
    mid_new = new[prefix : len(new) - suffix]
    out = []
    for tag, i1, i2, j1, j2 in _middle_opcodes(mid_old, mid_new):
        if tag == "equal":
            continue
        start, end = prefix + i1, prefix + i2
        out.append(
            Change(
                at=start,
                removed=tuple(mid_old[i1:i2]),
                added=tuple(mid_new[j1:j2]),
                before=tuple(old[max(0, start - context) : start]),
                after=tuple(old[end : end + context]),
            )
        )
    return out


def _clip(ws: Sequence[str], n: int) -> str:
    return " ".join(ws[:n]) + (" ..." if len(ws) > n else "")


def marked(change: Change, max_words: int | None = None) -> str:
    """A passage as ``before [-removed-] {+added+} after`` (wdiff's notation)."""
    n = max_words if max_words is not None else max(len(change.removed), len(change.added))
    parts = [" ".join(change.before)] if change.before else []
    if change.removed:
        parts.append(f"[-{_clip(change.removed, n)}-]")
    if change.added:
        parts.append(f"{{+{_clip(change.added, n)}+}}")
    if change.after:
        parts.append(" ".join(change.after))
    return " ".join(parts)


def summarize(old_text: str | None, new_text: str | None) -> DiffSummary:
    """Words added and removed from the old text to the new, and an excerpt of the first
    changed passages (bounded in words and characters, however long the texts)."""
    found = changes(words(old_text), words(new_text), context=3)
    passages = [marked(c, EXCERPT_WORDS) for c in found[:EXCERPT_PASSAGES]]
    if len(found) > EXCERPT_PASSAGES:
        passages.append(f"(+{len(found) - EXCERPT_PASSAGES} more)")
    excerpt = " ... ".join(passages)
    if len(excerpt) > EXCERPT_CHARS:
        excerpt = excerpt[: EXCERPT_CHARS - 3].rstrip() + "..."
    return DiffSummary(
        words_added=sum(len(c.added) for c in found),
        words_removed=sum(len(c.removed) for c in found),
        excerpt=excerpt,
    )


def readable_diff(old_text: str | None, new_text: str | None, max_passages: int = 50) -> list[str]:
    """One line per changed passage, with its word position and unchanged words around it;
    after ``max_passages`` a last line says how many more."""
    found = changes(words(old_text), words(new_text), context=6)
    lines = [f"word {c.at + 1}: {marked(c)}" for c in found[:max_passages]]
    if len(found) > max_passages:
        lines.append(f"... {len(found) - max_passages} more changed passages")
    return lines
