"""The near-duplicate engine: normalisation per script, verification, clusters, parameters,
idempotence and commit ordering."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from pipelines.dedup.corpus import MemoryDeduper, dedup_jsonl
from pipelines.dedup.evidence import Evidence, compare, is_copy
from pipelines.dedup.fingerprint import fingerprint
from pipelines.dedup.params import DedupParams
from pipelines.dedup.shingles import SCHEMES, detect_scheme, shingle_hashes, units

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "bbc-news" / "articles.jsonl.gz"
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def shingle_set(text: str) -> set[int]:
    return set(shingle_hashes(text)[1].tolist())


@pytest.fixture(scope="module")
def stories() -> list[list[str]]:
    """Paragraph lists of distinct real articles (the sample shipped with the package)."""
    from crawler.demo.mockweb import load_sample

    out = []
    for outlet in load_sample()["outlets"]:
        if outlet["id"] != "demo_wire":
            out.extend(a["paragraphs"] for a in outlet["articles"] if len(a["paragraphs"]) >= 5)
    return out


# -- normalisation per script ------------------------------------------------------------------


def test_arabic_diacritics_tatweel_and_letter_variants_fold() -> None:
    plain = (
        "قال وزير الخارجية الروسي إن موسكو ستواصل مساعدة دمشق لتجنب تكرار السيناريو الليبي في سوريا"
    )
    marked = "قَالَ وَزِيرُ الخَارِجِيَّةِ الرُّوسِيُّ أن مُوسكـــو ستواصل مساعدة دمشق لتجنب تكرار السيناريو الليبى فى سوريا"
    assert detect_scheme(plain).name == "arabic"
    assert shingle_set(plain) == shingle_set(marked)


def test_persian_zwnj_space_and_joined_spellings_match() -> None:
    forms = [
        "ما می\u200cخواهیم این کتاب\u200cها را امروز به کتابخانه برگردانیم",
        "ما می خواهیم این کتاب ها را امروز به کتابخانه برگردانیم",
        "ما میخواهیم این کتابها را امروز به کتابخانه برگردانیم",
    ]
    sets = [shingle_set(f) for f in forms]
    assert sets[0] == sets[1] == sets[2]
    # Persian keheh/yeh and Arabic kaf/yeh are one letter for matching
    assert shingle_set("کتاب یک") == shingle_set("كتاب يك")


def test_chinese_and_japanese_use_character_shingles() -> None:
    zh = "俄罗斯外交部长拉夫罗夫表示，莫斯科将继续帮助大马士革，以避免利比亚局势在叙利亚重演。"
    assert detect_scheme(zh) is SCHEMES["cjk"]
    assert shingle_set(zh) == shingle_set(zh.replace("，", " ").replace("。", ""))
    ja = "ロシアのラブロフ外相は、シリア政府への支援を続けると述べた。"
    assert detect_scheme(ja) is SCHEMES["cjk"]
    assert len(shingle_set(ja)) > 10


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "Le président de la République s'est rendu à l'Élysée",
            "le PRÉSIDENT de la république s’est rendu à l’élysée",
        ),
        (
            "El ministro español habló con la prensa en Madrid",
            "EL MINISTRO ESPAÑOL habló con la prensa en Madrid",
        ),
        (
            "Министр иностранных дел России Сергей Лавров заявил",
            "министр иностранных дел россии сергей лавров заявил",
        ),
    ],
)
def test_spaced_scripts_ignore_case_and_punctuation(a: str, b: str) -> None:
    assert detect_scheme(a).name == "word"
    assert shingle_set(a) == shingle_set(b)


def test_words_follow_unicode_word_boundaries() -> None:
    assert units("Hello, world! naïve café-bar 2025", SCHEMES["word"]) == [
        "hello",
        "world",
        "naïve",
        "café",
        "bar",
        "2025",
    ]
    hindi = "भारत की राजधानी नई दिल्ली है"
    assert units(hindi, SCHEMES["word"]) == ["भारत", "की", "राजधानी", "नई", "दिल्ली", "है"]


# -- verification ------------------------------------------------------------------------------


def test_compare_finds_shared_passages_and_their_coverage(stories: list[list[str]]) -> None:
    params = DedupParams()
    original = "\n\n".join(stories[0])
    trimmed = "LONDON (Wire) - " + "\n\n".join(stories[0][:2])
    new, old = fingerprint(trimmed, params), fingerprint(original, params)
    evidence = compare(new, old.tokens, old.shingles, params)
    assert evidence.coverage > 0.9  # the trimmed copy is all shared passage, bar its dateline
    assert 0.1 < evidence.coverage_longer < 0.6  # a part of the original
    assert evidence.passages and evidence.passages[0].start == 2  # after "london wire"
    unrelated = fingerprint("\n\n".join(stories[1]), params)
    nothing = compare(unrelated, old.tokens, old.shingles, params)
    assert nothing.coverage == 0 and not nothing.passages


def test_verification_rule() -> None:
    params = DedupParams()
    assert is_copy(Evidence(0.2, 0.9, 0.9, 0.2), params)  # a brief made from a long story
    assert is_copy(Evidence(0.3, 0.5, 0.45, 0.35), params)  # a copy with its own additions
    assert not is_copy(Evidence(0.1, 0.3, 0.25, 0.15), params)  # shares a quoted paragraph
    assert not is_copy(Evidence(0.2, 0.9, 0.9, 0.05), params)  # a quote, most of a tiny text
    assert is_copy(Evidence(0.0, 0.0, 0.0, 0.0, exact=True), params)


def build(paragraphs: list[str], keep: float = 1.0, extra: str = "") -> str:
    kept = paragraphs[: max(1, round(len(paragraphs) * keep))]
    return "\n\n".join([*kept, extra] if extra else kept)


def test_trimmed_captioned_copy_is_found_and_follow_up_is_not(stories: list[list[str]]) -> None:
    d = MemoryDeduper()
    original = d.add(build(stories[0]), T0)
    copy = d.add(
        "WASHINGTON (Wire) - " + build(stories[0], keep=0.4, extra="A file photo. (Wire Photo)"),
        T0 + timedelta(hours=3),
    )
    # A follow-up: new reporting that quotes one paragraph of the original as background.
    follow_up = d.add(
        build([*stories[1][:3], stories[0][1], *stories[1][3:]]), T0 + timedelta(days=1)
    )
    unrelated = d.add(build(stories[2]), T0)
    assert d.duplicate_of(copy) == original
    evidence = d.result(copy).evidence
    assert evidence is not None and evidence["containment"] >= 0.7
    assert d.duplicate_of(follow_up) is None
    assert d.duplicate_of(unrelated) is None
    assert d.duplicate_of(original) is None


def test_canonical_is_the_earliest_published_even_when_it_arrives_later(
    stories: list[list[str]],
) -> None:
    d = MemoryDeduper()
    late_copy = d.add(build(stories[3], keep=0.8), T0 + timedelta(hours=5))
    other_copy = d.add(build(stories[3], keep=0.6), T0 + timedelta(hours=2))
    original = d.add(build(stories[3]), T0)
    assert d.cluster_of(late_copy) == d.cluster_of(original) == d.cluster_of(other_copy)
    assert d.duplicate_of(original) is None
    assert d.duplicate_of(late_copy) == original and d.duplicate_of(other_copy) == original
    evidence = d.result(late_copy).evidence
    assert evidence is not None and evidence["containment"] > 0.9
    # the canonical article reads as canonical: no link, no evidence of its own
    canonical = d.result(original)
    assert canonical.duplicate_of is None


def test_ties_are_broken_deterministically(stories: list[list[str]]) -> None:
    d = MemoryDeduper()
    first = d.add(build(stories[4]), T0)
    second = d.add(build(stories[4], keep=0.7), T0)
    assert d.duplicate_of(second) == first and d.duplicate_of(first) is None


def test_no_chaining_through_a_digest_page(stories: list[list[str]]) -> None:
    """A digest quoting two stories in full is a copy of each, but the two stories must not end
    up in one cluster through it."""
    d = MemoryDeduper()
    a = d.add(build(stories[5]), T0)
    digest = d.add(build(stories[5]) + "\n\n" + build(stories[6]), T0 + timedelta(hours=1))
    b = d.add(build(stories[6]), T0 + timedelta(hours=2))
    assert d.duplicate_of(digest) == a
    assert d.cluster_of(b) != d.cluster_of(a)


def test_short_texts_are_never_minhash_indexed_but_exact_copies_match() -> None:
    params = DedupParams()
    short = "Markets closed higher on Friday."
    fp = fingerprint(short, params)
    assert not fp.indexed and fp.signature is None
    d = MemoryDeduper(params)
    first = d.add(short, T0)
    assert d.duplicate_of(d.add(short + "  ", T0 + timedelta(minutes=1))) == first
    assert d.duplicate_of(d.add("Markets closed lower on Friday.", T0)) is None


@pytest.mark.parametrize("wordless", ["", "   \n\t ", "...", "!!! ???", "★ ☆ ♥", "— – -"])
def test_texts_without_words_are_never_linked(wordless: str) -> None:
    d = MemoryDeduper()
    first = d.add(wordless, T0)
    second = d.add(wordless, T0 + timedelta(minutes=1))
    third = d.add("", T0)
    for doc in (first, second, third):
        result = d.result(doc)
        assert result.duplicate_of is None and result.matched_id is None
        assert result.reason == "no_words"
    assert len({d.cluster_of(first), d.cluster_of(second), d.cluster_of(third)}) == 3


def test_look_alike_letters_do_not_hide_a_copy(stories: list[list[str]]) -> None:
    """A copy with a fifth of its Latin letters swapped for Cyrillic look-alikes is a copy."""
    import random

    rng = random.Random(4)
    swap = str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х"})
    original = build(stories[9])
    disguised = "".join(ch.translate(swap) if rng.random() < 0.2 else ch for ch in original)
    assert disguised != original
    d = MemoryDeduper()
    first = d.add(original, T0)
    assert d.duplicate_of(d.add(disguised, T0 + timedelta(hours=1))) == first


def test_dedup_jsonl_command_output(stories: list[list[str]]) -> None:
    docs = [
        {"id": "a", "text": build(stories[7], keep=0.7), "published": "2025-03-01T10:00:00Z"},
        {"id": "b", "text": build(stories[8])},
        {"id": "c", "text": build(stories[7]), "published": "2025-03-01T09:00:00Z"},
    ]
    out = io.StringIO()
    report = dedup_jsonl((json.dumps(d).encode() for d in docs), out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert report.documents == 3 and not report.bad
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    assert rows[2]["duplicate_of"] is None  # c was published first: it leads the cluster
    assert rows[0]["duplicate_of"] == "c" and rows[0]["cluster"] == "a"
    assert rows[1]["duplicate_of"] is None and rows[1]["similarity"] is None
    # the evidence: scores and the shared passages, quoted from the text they are in
    assert rows[0]["coverage"] > 0.5 and rows[0]["passages"]
    assert rows[0]["passages_in"] in ("a", "c")
    assert all(p["text"] and p["units"] >= 16 for p in rows[0]["passages"])


@pytest.mark.skipif(
    not SHARED.exists(),
    reason=f"needs the BBC News research set at {SHARED} (the project's shared data folder, "
    "beside the checkout; not redistributable, so not vendored)",
)
def test_real_bbc_duplicates_are_found() -> None:
    """The BBC set holds about 100 exact duplicate bodies: every one must be found."""
    with gzip.open(SHARED, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    d = MemoryDeduper()
    first_seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        d.add(row["body"])
        first_seen.setdefault(row["body"], i)
    for i, row in enumerate(rows):
        if first_seen[row["body"]] != i:
            assert d.cluster_of(i) == d.cluster_of(first_seen[row["body"]])


# -- parameters and storage ----------------------------------------------------------------------


def test_params_fingerprint_ignores_thresholds_only() -> None:
    base = DedupParams()
    assert DedupParams(coverage_min=0.8, min_passage_words=30).fingerprint() == base.fingerprint()
    assert DedupParams(anchor_bits=4).fingerprint() != base.fingerprint()
    assert DedupParams(seed=1).fingerprint() != base.fingerprint()
    assert DedupParams(num_perm=64).fingerprint() != base.fingerprint()
    with pytest.raises(ValueError):
        DedupParams(anchor_bits=12)


def test_minhash_values_equal_datasketch_update_batch() -> None:
    from pipelines.dedup.fingerprint import datasketch_minhash, minhash_values

    shingles = np.unique(
        shingle_hashes(
            "Ministers met in Brussels on Monday to agree the budget. " * 3
            + "A new paragraph follows here with other words entirely."
        )[1]
    )
    for num_perm, seed in ((128, 1), (64, 7)):
        assert np.array_equal(
            minhash_values(shingles, num_perm, seed), datasketch_minhash(shingles, num_perm, seed)
        )


def test_permutations_are_datasketchs_without_importing_it() -> None:
    from datasketch import MinHash

    from pipelines.dedup.fingerprint import _permutations

    for num_perm, seed in ((128, 1), (32, 2), (256, 12345)):
        a, b = _permutations(num_perm, seed)
        expected = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
        assert a.dtype == b.dtype == np.uint32
        assert np.array_equal(a, expected[0]) and np.array_equal(b, expected[1])


def test_index_merges_keep_every_entry_in_key_order_and_arrival_order() -> None:
    """Many small flushes force merges of sorted runs; a query must see every document once,
    in the order they were added, and forgotten ids must go."""
    from pipelines.dedup.index import BandIndex

    rng = np.random.default_rng(3)
    index = BandIndex(flush_at=64)
    added: dict[int, list[int]] = {}
    for doc_id in range(1, 2001):
        keys = np.unique(rng.integers(0, 400, 5).astype(np.uint64))
        index.add(doc_id, keys)
        for key in keys.tolist():
            added.setdefault(key, []).append(doc_id)
    index.flush()
    for key in (0, 17, 399):
        hits = index.query(np.array([key], dtype=np.uint64))
        assert list(hits) == added.get(key, [])
    index.forget_below(1000)
    for doc_id in range(2001, 2400):
        index.add(doc_id, np.array([17], dtype=np.uint64))
    index.flush()
    hits = index.query(np.array([17], dtype=np.uint64))
    assert all(doc_id >= 1000 for doc_id in hits)
    assert [d for d in hits if d < 2001] == [d for d in added[17] if d >= 1000]
