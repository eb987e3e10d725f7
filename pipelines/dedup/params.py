"""The dedup engine's parameters, and the guard that keeps stored signatures of other parameters
apart (they would silently never match)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from pipelines.dedup.shingles import SCHEMES

#: Bump when shingling or hashing code changes in a way that changes stored values.
#: 2: look-alike letters folded; shingles stored in text order; anchors.
SHINGLING_VERSION = 2


class ParamsMismatch(RuntimeError):
    """Stored signatures were made with other parameters; they would silently never match."""


@dataclass(frozen=True)
class DedupParams:
    num_perm: int = 128
    lead_perm: int = 64
    seed: int = 20151009
    min_shingles: int = 50
    anchor_bits: int = 3  # 1 in 2**anchor_bits shingles is an anchor
    max_anchors: int = 48  # per document (the lowest-hashed, when there are more)
    # -- lookup and verification: change nothing stored, so changing them needs no re-index --
    stop_postings: int = 400  # anchors listed by more documents are not looked up
    min_shared_anchors: int = 2
    anchor_share_min: float = 0.2  # of the smaller document's anchors
    max_candidates: int = 32  # verified per document, most shared anchors first
    passage_seed_words: float = 6.0  # shared runs this long (in words' worth) seed passages...
    passage_gap_words: float = 2.0  # ...joined across gaps this long (an edit)...
    min_passage_words: float = 16.0  # ...into passages, when they span this many
    # A copy: shared passages cover most of the shorter text and some of the longer (a brief
    # made from a long wire story), or much of both (a copy with its own additions).
    coverage_min: float = 0.4
    coverage_longer_min: float = 0.1
    coverage_both_min: float = 0.3
    jaccard_min: float = 0.6  # or the two texts' shingle sets overlap this much
    containment_floor: float = 0.1  # below it, passages are not even looked for
    datasketch_scheme: str = "affine32"
    hash_function: str = "xxh64-polynomial-splitmix-32"

    def __post_init__(self) -> None:
        if self.num_perm < 1 or self.lead_perm < 1:
            raise ValueError("MinHash signatures need at least one permutation")
        if not 0 <= self.anchor_bits <= 8:
            raise ValueError("anchor_bits must be between 0 and 8")

    #: Fields that only steer lookup and verification: stored data does not depend on them.
    LOOKUP_FIELDS = (
        "stop_postings",
        "min_shared_anchors",
        "anchor_share_min",
        "max_candidates",
        "passage_seed_words",
        "passage_gap_words",
        "min_passage_words",
        "coverage_min",
        "coverage_longer_min",
        "coverage_both_min",
        "jaccard_min",
        "containment_floor",
    )

    def identity(self) -> dict[str, Any]:
        """Everything that decides signature values and index keys."""
        return {
            **asdict(self),
            "shingling": {name: asdict(s) for name, s in SCHEMES.items()},
            "shingling_version": SHINGLING_VERSION,
        }

    def fingerprint(self) -> str:
        """A hash of the parameters that change stored data (lookup and verification settings
        excluded: changing them needs no re-indexing)."""
        ident = self.identity()
        for key in self.LOOKUP_FIELDS:
            ident.pop(key)
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()

    @property
    def keys_per_document(self) -> int:
        """Index keys of a full-length document at most: its exact hash and its anchors."""
        return 1 + self.max_anchors
