"""A stored article's text remade in place (``newscrawl reextract``): the store's own
transaction (``storage.articles.upsert_article``: the old version kept as a revision, the new
signature and bands), and then its cluster decided again. A refetch keeps an article in its
cluster whatever its new text; a re-extraction may show that the old text was wrong (a cookie
banner taken for the story, say), so here an article that is no longer a copy of its cluster
leaves it and is decided afresh against everything stored, as a new article would be.

Whether it stays: a copy stays while its new text is still a verified copy of its canonical
article; a canonical article with copies stays while its new text still verifies against one
of them (copies that no longer verify against it keep their link: only the article
re-extracted moves). The in-memory index learns of the new text only after the commit
(``pipelines.dedup.store.store_article``); its old keys stay in the append-only index and
only ever give candidates that fail verification."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from pipelines.dedup.engine import Decision, rank_candidates
from pipelines.dedup.store import (
    DedupContext,
    DedupHook,
    DedupResult,
    SqlDocs,
    apply_decision,
    store_article,
)
from storage import bands, clusters
from storage.articles import ArticleRow
from storage.db import Database


class _Relink(DedupHook):
    """The store's hook, and on a text change the cluster decided again."""

    def __init__(self, row: ArticleRow, dedup: DedupContext) -> None:
        super().__init__(row, dedup)
        self.moved = False

    def text_changed(self, s: Session, article_id: int) -> None:
        super().text_changed(s, article_id)  # the signature (and bands) follow the new text
        before = clusters.place_of(s, article_id)
        if self._stays(s, before):
            return
        clusters.leave_cluster(s, article_id)
        decision = self._decide_again(s, article_id)
        if decision.match is not None:
            apply_decision(s, article_id, decision, self.row.content.text)
        # it left a cluster of several, or joined one
        self.moved = bool(before.others) or decision.match is not None

    def _stays(self, s: Session, place: clusters.Place) -> bool:
        engine, fp = self.dedup.engine, self.dedup.fingerprint
        if place.duplicate_of is not None:
            wanted = [place.duplicate_of]
        elif place.others:
            wanted = place.others
        else:
            return False  # alone: decided afresh, it may join a cluster now
        infos = SqlDocs(s).get_many(wanted)
        return any(engine.verify(fp, info) is not None for info in infos.values())

    def _decide_again(self, s: Session, article_id: int) -> Decision:
        engine, fp = self.dedup.engine, self.dedup.fingerprint
        published = self.row.content.published_at
        if self.dedup.shared:
            keys = engine.keys(fp)
            exact, anchored, sizes = bands.band_candidates(s, keys, engine.params.stop_postings)
            ranked = rank_candidates(exact, anchored, sizes, len(keys) - 1, engine.params)
        else:
            ranked = engine.candidates(fp)
        others = [doc for doc in ranked if doc != article_id]
        return engine.decide_among(fp, published, others, SqlDocs(s))


def restore_article(
    db: Database,
    row: ArticleRow,
    dedup: DedupContext,
    also: Callable[[Session, DedupResult], None] | None = None,
) -> tuple[DedupResult, bool]:
    """Store the article's re-extracted version in its own transaction (as
    ``store_article``), its cluster decided again when its text changed; and whether it
    moved (left its cluster, joined another, or its cluster got a new canonical article)."""
    hook = _Relink(row, dedup)
    result = store_article(db, row, dedup, also=also, hook=hook)
    return result, hook.moved
