"""trafilatura's text extraction run up to three times on one page (page.py: precision first,
then balanced and precision with fallbacks when the first text is doubted) without redoing the
work the runs share.

Every ``trafilatura.bare_extraction`` call copies the page and prunes its raw tree with two
XPath lists whose regex tests call back into Python for each element (about 2 ms a page, as
much as a tenth of a run). Here the outlet's prune selectors and those raw-tree prunes run
once per page, and each run starts from that tree. A run is trafilatura 2.3's
``trafilatura_sequence`` followed by ``bare_extraction``'s checks, for the options newscrawl
uses (no comments, no metadata, tables kept, no deduplication), built from trafilatura's own
steps, so the text is the one ``bare_extraction`` gives: tests/unit/test_trafilatura_passes.py
holds the two equal on the vendored pages. A fast run also skips the pre-conversion copy of the
cleaned tree that only the fallbacks read.

When the installed trafilatura lacks one of those steps (they are internal), every run is a
plain ``bare_extraction`` call: slower, never different."""

from __future__ import annotations

import logging
from copy import copy
from typing import Any

import trafilatura
from lxml.etree import XPath, strip_tags
from trafilatura.htmlprocessing import convert_tags, prune_unwanted_nodes, tree_cleaning
from trafilatura.settings import DEFAULT_CONFIG, Extractor
from trafilatura.xml import xmltotxt

try:  # trafilatura's internal steps (2.3)
    from trafilatura.baseline import baseline, html2txt
    from trafilatura.core import (
        ESCALATION_ACCEPT_RATIO,
        ESCALATION_JUSTEXT_RATIO,
        ESCALATION_MAX_LENGTH,
        ESCALATION_PAGE_SHARE,
        _forum_thread_page,
        _recall_retry,
    )
    from trafilatura.external import compare_extraction, justext_rescue
    from trafilatura.main_extractor import extract_content
    from trafilatura.xpaths import (
        RAW_TREE_PRUNE_XPATH,
        REMOVE_COMMENTS_AND_LISTS_XPATH,
        REMOVE_COMMENTS_XPATH,
    )

    SHARED_PASSES = True
except ImportError:  # another trafilatura: each run is bare_extraction
    SHARED_PASSES = False

LOGGER = logging.getLogger(__name__)


def _options(url: str, *, precision: bool, fast: bool) -> Extractor:
    """The options ``bare_extraction`` builds from newscrawl's arguments (page.py)."""
    return Extractor(
        config=DEFAULT_CONFIG,
        output_format="python",
        fast=fast,
        precision=precision,
        recall=False,
        comments=False,
        formatting=None,
        links=False,
        images=False,
        tables=True,
        dedup=False,
        lang=None,
        url=url,
        with_metadata=False,
    )


def bare_text(tree: Any, url: str, *, precision: bool, fast: bool, prune: tuple[str, ...]) -> str:
    """One run through trafilatura's public entry point; the text, or "" when it gives none."""
    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=False,
        include_comments=False,
        include_tables=True,
        deduplicate=False,
        favor_precision=precision,
        fast=fast,
        prune_xpath=list(prune) or None,
    )
    return (getattr(doc, "text", None) or "") if doc is not None else ""


class PagePasses:
    """One page's trafilatura runs over a raw tree pruned once. The parsed tree passed in is
    left whole (the metadata and the evidence read it)."""

    def __init__(self, tree: Any, url: str, prune: tuple[str, ...] = ()) -> None:
        self.url = url
        self._parsed, self._prune = tree, prune
        if not SHARED_PASSES:
            return
        raw = copy(tree)
        if prune:  # the outlet's drop selectors, pruned first as bare_extraction does
            raw = prune_unwanted_nodes(raw, [XPath(x) for x in prune])
        self.forum = _forum_thread_page(raw)
        raw = prune_unwanted_nodes(raw, RAW_TREE_PRUNE_XPATH)
        # comments off: comment containers and their lists are pruned from the raw tree for
        # every run, except a balanced run on a forum thread page, where the posts are content
        self._listed = copy(raw) if self.forum else None
        self._tree = prune_unwanted_nodes(raw, REMOVE_COMMENTS_AND_LISTS_XPATH)

    def text(self, *, precision: bool, fast: bool) -> str:
        """The text of one run (precision or balanced focus; fast skips the fallbacks), as
        ``bare_extraction(...).text`` gives it; "" when the run gives none."""
        if not SHARED_PASSES:
            return bare_text(
                self._parsed, self.url, precision=precision, fast=fast, prune=self._prune
            )
        options = _options(self.url, precision=precision, fast=fast)
        tree = self._listed if self.forum and not precision else self._tree
        try:
            body, text = self._sequence(tree, options)
            return self._checked_text(body, text, options)
        except (TypeError, ValueError):  # as bare_extraction: no text
            return ""

    def _sequence(self, tree: Any, options: Extractor) -> tuple[Any, str]:
        """trafilatura_sequence after its raw-tree prunes, with comments off. Nothing here
        changes ``tree``: every step that edits works on a copy, as trafilatura's do."""
        url = self.url
        cleaned = tree_cleaning(copy(tree), options)
        backup = None if options.fast else copy(cleaned)  # only the fallbacks read it
        cleaned = convert_tags(cleaned, options, url)
        if options.focus == "precision" and not self.forum:
            cleaned = prune_unwanted_nodes(cleaned, REMOVE_COMMENTS_XPATH)
        body, text = extract_content(cleaned, options)
        if not options.fast:
            body, text = compare_extraction(backup, copy(tree), body, text, options)
        # rescue: the baseline on the raw tree, kept only when it adds text
        if len(text) < options.min_extracted_size and options.focus != "precision":
            b_body, b_text, b_len = baseline(tree)
            if b_len > len(text):
                body, text = b_body, b_text
        # recall escalation: a short text that covers little of the page is retried
        if (
            options.focus == "balanced"
            and 0 < len(text) < ESCALATION_MAX_LENGTH
            and len(text) < ESCALATION_PAGE_SHARE * len(html2txt(tree))
        ):
            r_options = copy(options)
            r_options.focus = "recall"
            r_text = j_text = ""
            try:
                r_body, r_text = _recall_retry(tree, r_options, url)
            except Exception as err:  # as trafilatura: a failed retry is no retry
                LOGGER.warning("recall retry failed: %s %s", err, url)
            if not options.fast:
                try:
                    j_body, j_text = justext_rescue(copy(tree), options)
                except Exception as err:
                    LOGGER.warning("justext candidate failed: %s %s", err, url)
            length, r_len, j_len = len(text), len(r_text), len(j_text)
            if j_len > r_len and j_len > ESCALATION_JUSTEXT_RATIO * length:
                body, text = j_body, j_text
            elif r_len >= options.min_extracted_size and r_len > ESCALATION_ACCEPT_RATIO * length:
                body, text = r_body, r_text
        return body, text

    @staticmethod
    def _checked_text(body: Any, text: str, options: Extractor) -> str:
        """bare_extraction's checks on the result, then its text."""
        if options.max_tree_size:
            if len(body) > options.max_tree_size:
                strip_tags(body, "hi")
            if len(body) > options.max_tree_size:
                return ""
        if len(text) < options.min_output_size and options.min_output_comm_size > 0:
            return ""
        return str(xmltotxt(body, options.formatting) or "")
