"""The page's author: trafilatura's search of the page without its copy of the tree, and the
byline as the page wrote it when trafilatura's name normalisation would garble it.

trafilatura splits an author string on "and" and title-cases the parts, which is right for
people ("John Smith and Jane Doe" is "John Smith; Jane Doe") and wrong for a credit line
("Staff and wire reports" becomes "Staff; Wire Reports"). Names are capitalised where they are
written, so a declared author with lower-case words (other than the particles of names) is a
phrase, and is kept as written."""

from __future__ import annotations

import html as html_lib
import re
from typing import Any

from lxml import etree
from trafilatura.json_metadata import normalize_authors
from trafilatura.utils import trim

_META_AUTHOR_RE = re.compile(
    r"""<meta\b[^>]*?\b(?:name|property)\s*=\s*["'](?:author|article:author|dc\.creator)["']"""
    r"""[^>]*?\bcontent\s*=\s*(?:"([^"]*)"|'([^']*)')""",
    re.IGNORECASE,
)
_JSON_AUTHOR_RE = re.compile(r'"author"\s*:\s*(?:\[\s*)?\{[^{}]*?"name"\s*:\s*"([^"]{1,300})"')
#: lower-case words that belong inside names: "Ursula von der Leyen", "Ahmed bin Salman"
_PARTICLES = frozenset(
    [
        "and",
        "of",
        "de",
        "del",
        "della",
        "der",
        "di",
        "da",
        "dos",
        "du",
        "van",
        "von",
        "la",
        "le",
        "al",
        "el",
        "bin",
        "ibn",
        "y",
        "e",
        "zu",
        "ten",
        "ter",
    ]
)
_WORD_RE = re.compile(r"[^\W\d_][\w'’-]*")


def _declared_authors(page: str) -> list[str]:
    head = page[:200_000]
    found = [a or b for a, b in _META_AUTHOR_RE.findall(head)]
    found += _JSON_AUTHOR_RE.findall(head)
    return [" ".join(html_lib.unescape(x).split()) for x in found if x.strip()]


def _is_phrase(text: str) -> bool:
    return any(w[0].islower() and w.lower() not in _PARTICLES for w in _WORD_RE.findall(text))


def _same_words(a: str, b: str) -> bool:
    def words(s: str) -> list[str]:
        return [w.lower() for w in _WORD_RE.findall(s) if w.lower() != "and"]

    return words(a) == words(b)


def byline(page: str, normalised: str | None) -> str | None:
    """trafilatura's author, or the page's own credit line when that one is a phrase that
    normalisation split and re-capitalised."""
    if not normalised or ";" not in normalised:
        return normalised
    for declared in _declared_authors(page):
        if _is_phrase(declared) and _same_words(declared, normalised):
            return declared
    return normalised


# trafilatura's author search (trafilatura.metadata.extract_author, 2.3) finds the same author
# in the same order: it deep-copies the whole tree, deletes what AUTHOR_DISCARD_XPATHS names
# and runs three AUTHOR_XPATHS over the copy, about 5 ms a page; here one cheap XPath finds the
# elements that carry an attribute any of those tests reads, the tests run on those, and the
# deletion is simulated for the few candidates whose text is read.
#: elements any author or discard test can match: the rest have none of the attributes read
_ATTRIBUTED = etree.XPath(
    "//*[@class or @id or @rel or @itemprop or @data-testid or @data-component or rel]|//author"
)
_TAGS_1 = frozenset(["a", "address", "div", "link", "p", "span", "strong"])
_CLASS_1 = re.compile("author-?name|AuthorName|authorName")
_TAGS_2 = frozenset(["a", "div", "h3", "h4", "p", "span"])
_CLASSES_2 = frozenset(["byline", "username", "byl", "BBL"])
_ID_2 = re.compile("author|zuozhe|bianji|xiaobian")
_CLASS_2 = re.compile(
    "author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name"
)
_ID_3 = re.compile("[Aa]uthor")
_CLASS_3 = re.compile("[Aa]uthor|screenname|writer|[Bb]yline")
_DISCARD_TAGS = frozenset(["a", "div", "section", "span"])
_DISCARD_ID = re.compile("^comments|comment-?list|ProductReviews")
_DISCARD_CLASS = re.compile(
    "^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram|"
    "article-(?:share|support)|print|category|meta-date|meta-reviewer"
)
AUTHOR_MAX_LENGTH = 120  # trafilatura's len_limit for authors


def _discarded(el: Any) -> bool:
    """AUTHOR_DISCARD_XPATHS as a test of one element."""
    tag = el.tag
    if tag in ("time", "figure"):
        return True
    if tag not in _DISCARD_TAGS:
        return False
    ident, cls = el.get("id", ""), el.get("class", "")
    return (
        ident == "comments"
        or cls in ("comments", "title", "date")
        or bool(_DISCARD_ID.search(ident))
        or bool(_DISCARD_CLASS.search(cls))
        or "Figure" in el.get("data-component", "")
    )


def _rel_me(el: Any) -> bool:
    # the XPath's ``rel='me'`` (no @) compares child <rel> elements' text, and so does this
    return any("".join(c.itertext()) == "me" for c in el.iterchildren("rel"))


def _first(el: Any) -> bool:
    """AUTHOR_XPATHS[0]: specific bylines (and <author>)."""
    tag, cls = el.tag, el.get("class", "")
    return tag == "author" or (
        tag in _TAGS_1
        and (
            el.get("rel") == "author"
            or el.get("id") == "author"
            or cls == "author"
            or el.get("itemprop") == "author name"
            or el.get("data-testid") in ("AuthorCard", "AuthorURL")
            or bool(_CLASS_1.search(cls))
            or _rel_me(el)
        )
    )


def _second(el: Any) -> bool:
    """AUTHOR_XPATHS[1]: almost generic bylines."""
    cls = el.get("class", "")
    return el.tag in _TAGS_2 and (
        cls in _CLASSES_2
        or "author" in el.get("itemprop", "")
        or bool(_ID_2.search(el.get("id", "")))
        or bool(_CLASS_2.search(cls))
    )


def _third(el: Any) -> bool:
    """AUTHOR_XPATHS[2]: the last resort, any element."""
    return (
        "Byline" in el.get("data-component", "")
        or "author" in el.get("itemprop", "")
        or bool(_ID_3.search(el.get("id", "")))
        or bool(_CLASS_3.search(el.get("class", "")))
    )


def _pruned_text(el: Any) -> str:
    """``" ".join(el.itertext())`` as it reads once the discarded descendants are deleted: a
    deleted element's tail joins the text just before it, as trafilatura's delete_element
    does."""
    slots: list[str | None] = []

    def walk(node: Any) -> None:
        slots.append(node.text)
        for child in node:
            if not isinstance(child.tag, str):  # an entity: itertext gives its tail only
                slots.append(child.tail)
            elif _discarded(child):
                if child.tail:
                    slots[-1] = (slots[-1] or "") + child.tail
            else:
                walk(child)
                slots.append(child.tail)

    walk(el)
    return " ".join(s for s in slots if s is not None)


def search_author(tree: Any) -> str | None:
    """The author trafilatura's ``extract_author`` finds in the page (tests compare the two)."""
    attributed = _ATTRIBUTED(tree)
    for selects in (_first, _second, _third):  # each expression's matches in document order
        for el in attributed:
            if not selects(el):
                continue
            if _discarded(el) or any(_discarded(a) for a in el.iterancestors()):
                continue  # deleted with a discarded element
            content = trim(_pruned_text(el))
            if content and 2 < len(content) < AUTHOR_MAX_LENGTH:
                return normalize_authors(None, content)
    return None
