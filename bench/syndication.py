"""Labelled syndication sets built from real article texts, with copies as unlike their original
as real republished copies are.

Real copies (measured on a development set of real pages, see ``docs/benchmarks.md``) keep a
median of about 0.57 of their word 4-grams in common with an earlier copy (containment; range
0.27-0.98) and a Jaccard of about 0.35 (0.15-0.76). What makes them differ, and what
``realistic_copy`` does, each with its own probability: another headline, dateline and byline
block; a rewritten or merged first paragraph; an update with new paragraphs in the middle; the
end trimmed or extended with the outlet's own paragraphs; captions and "read more" lines inside
the text; two paragraphs swapped (quotes reordered); a name spelled another way; copy-edits;
look-alike Cyrillic letters for Latin ones.

Hard negatives: *follow-ups* (new reporting that quotes one or two paragraphs of the original:
the case that joins a follow-up to a short trimmed copy), *same-topic* pages (new text that
shares a quote sentence with a story) and *template* items (formula texts with other names and
figures: condolence messages, market reports, quake flashes). The rest: unrelated articles.
Everything arrives in random order.

Two styles of outlet furniture (headers, footers, captions): ``"house"`` to tune on and
``"other"`` to check on, so that a figure is never only measured on what it was tuned on.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REPO = Path(__file__).resolve().parents[1]
KEEP_LEVELS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


@dataclass(frozen=True)
class Style:
    datelines: tuple[str, ...]
    bylines: tuple[str, ...]
    footers: tuple[str, ...]
    captions: tuple[str, ...]
    read_more: tuple[str, ...]


STYLES = {
    "house": Style(
        datelines=("LONDON (Wire) -", "NEW YORK (NewsAgency) --", "PARIS, {day} (AFP) -", ""),
        bylines=("By Staff Reporter | The Globe Herald", "Published by Metro Online", ""),
        footers=(
            "Follow The Daily Courier on social media for the latest updates.",
            "Copyright 2025 The Globe Herald. All rights reserved.",
            "Reporting by NewsAgency staff; editing by the desk.",
            "",
        ),
        captions=(
            "A file photo taken in the capital last year. (AFP Photo)",
            "Officials speak to reporters after the meeting. (Reuters Photo)",
            "The building where the announcement was made. (Getty Images)",
        ),
        read_more=("Read more: the day's top stories, in your inbox every morning.",),
    ),
    "other": Style(
        datelines=("BRUSSELS, {day} (Xinhua) --", "TEHRAN, {day} (IRNA) -", "(AP) —", ""),
        bylines=(
            "Written by: Correspondent in the region",
            "{day} | Updated 2 hours ago | 4 min read",
            "Source: agencies",
            "",
        ),
        footers=(
            "Share this article: Facebook Twitter WhatsApp Email",
            "This story has been published from a wire agency feed without modifications.",
            "Tags: World, Politics, Economy",
            "",
        ),
        captions=(
            "Photo: Handout via the ministry / Anadolu",
            "IMAGE: Residents gather outside the court on Monday. Photograph: Supplied",
            "Video grab taken from footage broadcast on state television.",
        ),
        read_more=(
            "ALSO READ: What the ruling means for the region",
            "Related: Officials promise an inquiry into the delays",
        ),
    ),
}
EDITS = [
    (r"\bsaid\b", "says"),
    (r"\bper cent\b", "percent"),
    (r"\bhowever\b", "but"),
    (r"\bcompany\b", "firm"),
    (r"\bgovernment\b", "administration"),
    (r"\balso\b", "additionally"),
    (r"\bMr\b", "Mr."),
    (r"\bUS\b", "U.S."),
    (r"\bfavour", "favor"),
    (r"\borganis", "organiz"),
    (r"\bwill\b", "would"),
    (r"\bon Monday\b", "on Monday local time"),
    (r"\bmillion\b", "mln"),
    (r"\bthe\b", "this"),
]
LOOKALIKES = str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х"})
TEMPLATES = (
    (
        "{leader}, the president of {country}, sent a message of condolence on {weekday} to "
        "the people and government of {other} over the {disaster} that killed {n} people in "
        "the province of {place}. In the message, {leader} expressed deep sorrow and sympathy "
        "to the families of the victims, and wished a speedy recovery to the injured. "
        "{country} stands ready to offer any help needed, the message said."
    ),
    (
        "The benchmark index rose {n} points, or {pct} per cent, to {level} in early trade on "
        "{weekday}, led by gains in {sector} stocks. Top gainers were {firm} and {firm2}, while "
        "{firm3} fell up to {pct2} per cent. In the previous session the index settled at "
        "{level2}. Foreign institutional investors bought shares worth {n2} million on "
        "{weekday}, provisional data showed. Traders said buying by domestic funds and "
        "firm cues from other Asian markets lifted sentiment."
    ),
    (
        "A {mag}-magnitude earthquake jolted {place} in {country} at {hour} on {weekday}, "
        "according to the national earthquake networks centre. The epicentre was monitored at "
        "{lat} degrees north latitude and {lon} degrees east longitude, with a depth of {depth} "
        "kilometres. No casualties or damage have been reported so far, local authorities "
        "said, and rescue teams have been sent to the area to assess the situation."
    ),
)
SLOTS = {
    "leader": ["Ali Hassan", "Maria Lopez", "Kenji Sato", "Olga Petrova", "John Mensah"],
    "country": ["Iran", "Turkey", "Chile", "Indonesia", "Italy", "Nepal", "Morocco"],
    "other": ["Pakistan", "Mexico", "Japan", "Greece", "Peru", "Algeria", "India"],
    "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
    "disaster": ["earthquake", "floods", "fire", "landslide", "storm"],
    "place": ["Kerman", "Izmir", "Valparaiso", "Sulawesi", "Abruzzo", "Gorkha", "Al Haouz"],
    "sector": ["banking", "IT", "auto", "pharma", "energy"],
    "firm": ["Tata Steel", "Infosys", "HDFC Bank", "Reliance", "Wipro", "Cipla"],
}


@dataclass
class Doc:
    id: str
    text: str
    story: str  # documents of one story are copies of each other
    kind: str  # original, copy, follow_up, same_topic, template, unrelated
    keep: float | None
    published: datetime


def load_articles(path: Path | None = None) -> list[dict[str, str]]:
    path = path or SHARED / "bbc-news" / "articles.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return rows


def vendored_articles() -> list[dict[str, str]]:
    """Articles that ship with the repository, for the test suite's quality gate: the
    Scrapinghub benchmark's ground-truth bodies (MIT) and the demo sample's texts."""
    rows = []
    truth = json.loads(
        (REPO / "tests" / "data" / "extraction-benchmark" / "ground-truth.json").read_text()
    )
    for key, value in sorted(truth.items()):
        body = str(value["articleBody"])
        rows.append({"id": key, "title": " ".join(body.split()[:8]), "body": body})
    sample = json.loads((REPO / "crawler" / "demo" / "sample.json").read_text())
    for outlet in sample["outlets"]:
        if outlet["id"] == "demo_wire":  # copies of the others
            continue
        for i, art in enumerate(outlet["articles"]):
            rows.append(
                {
                    "id": f"{outlet['id']}/{i}",
                    "title": art["title"],
                    "body": "\n\n".join(art["paragraphs"]),
                }
            )
    return rows


def distinct_articles(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Drop the set's own duplicates (exact bodies, and updated versions of one story found
    by datasketch at a low threshold and a containment check), so that 'unrelated' is true."""
    from datasketch import MinHash, MinHashLSH

    def shingles(text: str) -> set[bytes]:
        words = re.findall(r"\w+", text.lower())
        return {" ".join(words[i : i + 5]).encode() for i in range(max(1, len(words) - 4))}

    lsh = MinHashLSH(threshold=0.2, num_perm=64)
    kept: list[dict[str, str]] = []
    sets: dict[str, set[bytes]] = {}
    for row in rows:
        sh = shingles(row["body"])
        m = MinHash(num_perm=64)
        m.update_batch(list(sh))
        near = False
        for other in lsh.query(m):
            inter = len(sh & sets[other])
            if inter / max(1, min(len(sh), len(sets[other]))) > 0.2:
                near = True
                break
        if near:
            continue
        lsh.insert(row["id"], m)
        sets[row["id"]] = sh
        kept.append(row)
    return kept


def paragraphs(body: str) -> list[str]:
    return [p.strip() for p in body.split("\n\n") if p.strip()]


def make_copy(paras: list[str], keep: float, rng: random.Random) -> str:
    """A light copy (re-headlined, captioned, trimmed): what the mock news web republishes."""
    kept = paras[: max(1, round(len(paras) * keep))]
    edited = []
    for p in kept:
        for pattern, repl in EDITS[:10]:
            if rng.random() < 0.3:
                p = re.sub(pattern, repl, p, count=1)
        edited.append(p)
    style = STYLES["house"]
    for _ in range(rng.randint(0, 2)):
        edited.insert(rng.randint(1, max(1, len(edited))), rng.choice(style.captions))
    header, footer = rng.choice(style.datelines[:2]), rng.choice(style.footers)
    if header:
        edited[0] = f"{header} {edited[0]}"
    if footer:
        edited.append(footer)
    return "\n\n".join(edited)


def _sentences(paragraph: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", paragraph) if s]


def _rewrite_lead(paras: list[str], rng: random.Random) -> list[str]:
    """The first paragraph rewritten (its first sentence kept with words reordered and
    replaced), or merged with the second."""
    if len(paras) > 1 and rng.random() < 0.4:
        merged = _sentences(paras[0])[:1] + _sentences(paras[1])[1:]
        return [" ".join(merged) or paras[0], *paras[2:]]
    words = _sentences(paras[0])[0].split() if _sentences(paras[0]) else paras[0].split()
    cut = rng.randint(1, max(1, len(words) - 1))
    words = [*words[cut:], "-", *words[:cut]]  # a clause moved to the front
    words = [
        w if rng.random() > 0.25 else rng.choice(("reportedly", "now", "officially")) for w in words
    ]
    return [" ".join(words), *paras[1:]]


def _reword(sentence: str, rng: random.Random) -> str:
    """A sentence as a desk rewrites it: a clause moved, every third word changed."""
    words = sentence.split()
    if len(words) < 4:
        return sentence
    cut = rng.randint(1, len(words) - 1)
    words = words[cut:] + words[:cut]
    return " ".join(
        w if i % 3 else rng.choice(("the", "its", "this", "a")) for i, w in enumerate(words)
    )


def _respell(text: str, rng: random.Random) -> str:
    """A name spelled another way, everywhere (transliteration: Gaddafi, Qaddafi)."""
    names = sorted({w for w in re.findall(r"\b[A-Z][a-z]{4,}\b", text) if text.count(w) > 1})
    if not names:
        return text
    name = rng.choice(names)
    i = rng.randrange(1, len(name) - 1)
    variant = name[:i] + name[i] + name[i:]  # a doubled letter
    return re.sub(rf"\b{name}\b", variant, text)


def realistic_copy(
    paras: list[str],
    keep: float,
    rng: random.Random,
    pool: Sequence[str],
    style: Style,
    title: str = "",
) -> str:
    """A republished copy as real ones differ from their original (module docstring)."""
    # A copy keeps at least two paragraphs of the story, and its own additions never outweigh
    # what it keeps (else it is other reporting, not a copy).
    body = list(paras[: max(2, round(len(paras) * keep))])
    if len(body) >= 3 and rng.random() < 0.6:
        body = _rewrite_lead(body, rng)
    kept = len(body)
    if kept >= 4 and rng.random() < 0.3:  # a wire update: new paragraphs in the middle
        at = rng.randint(1, kept - 1)
        body[at:at] = rng.sample(list(pool), 1 if kept < 8 else 2)
    if kept >= 3 and rng.random() < 0.25:  # the outlet's own paragraph at the end
        body.append(rng.choice(list(pool)))
    if len(body) > 3 and rng.random() < 0.25:  # quotes reordered
        i = rng.randint(1, len(body) - 2)
        body[i], body[i + 1] = body[i + 1], body[i]
    edit_rate = rng.choice((0.1, 0.3, 0.6, 1.0))
    # Sentences reworded by the desk (edits come in sentences, not sprinkled over the text).
    reworded = rng.choice((0.0, 0.1, 0.2, 0.3))
    edited = []
    for p in body:
        for pattern, repl in EDITS:
            if rng.random() < edit_rate:
                p = re.sub(pattern, repl, p, count=1)
        if reworded:
            p = " ".join(s if rng.random() >= reworded else _reword(s, rng) for s in _sentences(p))
        edited.append(p)
    for _ in range(rng.randint(0, 2)):
        extra = rng.choice(style.captions + style.read_more)
        edited.insert(rng.randint(1, max(1, len(edited))), extra)
    day = f"{rng.choice(('March', 'April'))} {rng.randint(1, 28)}"
    dateline = rng.choice(style.datelines).format(day=day)
    if dateline:
        edited[0] = f"{dateline} {edited[0]}"
    header = [rng.choice(("Breaking: ", "", "WATCH: ")) + (title or "News update")]
    byline = rng.choice(style.bylines).format(day=day)
    if byline:
        header.append(byline)
    footer = rng.choice(style.footers)
    text = "\n\n".join([*header, *edited, *([footer] if footer else [])])
    if rng.random() < 0.3:
        text = _respell(text, rng)
    if rng.random() < 0.1:  # look-alike letters, to dodge filters
        share = rng.choice((0.05, 0.2))
        text = "".join(ch.translate(LOOKALIKES) if rng.random() < share else ch for ch in text)
    return text


def template_item(template: str, rng: random.Random) -> str:
    values = {k: rng.choice(v) for k, v in SLOTS.items()}
    values.update(
        n=rng.randint(3, 900),
        n2=rng.randint(100, 9000),
        pct=round(rng.uniform(0.1, 2), 2),
        pct2=round(rng.uniform(0.1, 2), 2),
        level=f"{rng.randint(30000, 60000):,}.{rng.randint(10, 99)}",
        level2=f"{rng.randint(30000, 60000):,}.{rng.randint(10, 99)}",
        firm2=rng.choice(SLOTS["firm"]),
        firm3=rng.choice(SLOTS["firm"]),
        mag=round(rng.uniform(3, 7), 1),
        hour=f"{rng.randint(0, 23)}:{rng.randint(0, 59):02d}",
        lat=round(rng.uniform(10, 50), 2),
        lon=round(rng.uniform(10, 120), 2),
        depth=rng.randint(5, 30),
    )
    return template.format(**values)


def build(
    n_stories: int = 300,
    n_follow_ups: int = 300,
    n_unrelated: int = 900,
    seed: int = 1,
    articles: list[dict[str, str]] | None = None,
    style: str = "house",
    n_templates: int = 0,
    n_same_topic: int = 0,
) -> list[Doc]:
    rng = random.Random(seed)
    furniture = STYLES[style]
    pool = list(articles or distinct_articles(load_articles()))
    rng.shuffle(pool)
    # Originals need paragraphs to trim; the others only need to be distinct articles.
    long = [a for a in pool if len(paragraphs(a["body"])) >= 5]
    originals = long[:n_stories]
    chosen = {a["id"] for a in originals}
    rest = [a for a in pool if a["id"] not in chosen and len(paragraphs(a["body"])) >= 2]
    fresh = [a for a in rest if len(paragraphs(a["body"])) >= 6][:n_follow_ups]
    taken = {a["id"] for a in fresh}
    rest = [a for a in rest if a["id"] not in taken]
    needed = n_unrelated + n_same_topic
    if len(originals) < n_stories or len(fresh) < n_follow_ups or len(rest) < needed:
        raise SystemExit(f"not enough distinct articles ({len(pool)}) for the sizes asked")
    unrelated = rest[:n_unrelated]
    topical = rest[n_unrelated:needed]
    # Paragraphs the copies' outlets add of their own (never from an original of the set).
    own = [p for a in rest[needed:] or rest for p in paragraphs(a["body"]) if len(p.split()) > 12]
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    docs: list[Doc] = []
    for i, art in enumerate(originals):
        paras = paragraphs(art["body"])
        published = t0 + timedelta(minutes=rng.randint(0, 60 * 24 * 20))
        story = f"s{i}"
        docs.append(Doc(f"{story}-orig", art["body"], story, "original", 1.0, published))
        for c in range(rng.randint(1, 4)):
            keep = rng.choice(KEEP_LEVELS)
            text = realistic_copy(paras, keep, rng, own, furniture, art.get("title", ""))
            docs.append(
                Doc(
                    f"{story}-copy{c}",
                    text,
                    story,
                    "copy",
                    keep,
                    published + timedelta(minutes=rng.randint(5, 60 * 48)),
                )
            )
    for i, art in enumerate(fresh):
        # Follow-up on story i: new reporting (six paragraphs or more: the new reporting is
        # most of it), with one or two paragraphs of the original quoted as background.
        source = paragraphs(originals[i % n_stories]["body"])
        new = paragraphs(art["body"])
        quoted = rng.sample(source[1:], min(len(source) - 1, rng.choice((1, 2))))
        body = [*new[:2], *quoted, *new[2:]]
        published = t0 + timedelta(days=21, minutes=i)
        docs.append(Doc(f"f{i}", "\n\n".join(body), f"f{i}", "follow_up", None, published))
    for i, art in enumerate(topical):
        # Same topic: other reporting that shares one quoted sentence with a story.
        source = paragraphs(originals[(i * 7) % n_stories]["body"])
        quote = rng.choice(_sentences(rng.choice(source[1:])) or source[1:])
        new = paragraphs(art["body"])
        body = [*new[:1], quote, *new[1:]]
        published = t0 + timedelta(days=21, hours=i)
        docs.append(Doc(f"t{i}", "\n\n".join(body), f"t{i}", "same_topic", None, published))
    for i in range(n_templates):
        text = template_item(TEMPLATES[i % len(TEMPLATES)], rng)
        published = t0 + timedelta(hours=i)
        docs.append(Doc(f"p{i}", text, f"p{i}", "template", None, published))
    for i, art in enumerate(unrelated):
        docs.append(
            Doc(
                f"u{i}",
                art["body"],
                f"u{i}",
                "unrelated",
                None,
                t0 + timedelta(minutes=rng.randint(0, 60 * 24 * 20)),
            )
        )
    rng.shuffle(docs)
    return docs


def long_documents(count: int, seed: int = 2, words: int = 800) -> list[str]:
    """News-length texts (about ``words`` words) made of real BBC paragraphs drawn at random,
    so that documents share a paragraph now and then, as unrelated news does, but no more."""
    rng = random.Random(seed)
    pool = [p for row in load_articles() for p in paragraphs(row["body"])]
    out = []
    for _ in range(count):
        parts: list[str] = []
        total = 0
        while total < words:
            para = rng.choice(pool)
            parts.append(para)
            total += len(para.split())
        out.append("\n\n".join(parts))
    return out
