"""``newscrawl dedup`` on hostile input: bad lines reported with their number (and skipped with
--skip-bad), a byte-order mark accepted, repeated ids refused, lone surrogates and undecodable
bytes named, the exit status saying whether any line was bad. In process: no crawl starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.cli import EXIT_BAD_LINES, EXIT_FAILED, EXIT_OK, main
from crawler.demo.mockweb import load_sample

_ARTICLES = [a for o in load_sample()["outlets"] if o["id"] == "demo_bbc" for a in o["articles"]]
TEXT = "\n\n".join(_ARTICLES[0]["paragraphs"])
OTHER = "\n\n".join(_ARTICLES[1]["paragraphs"])


def run(tmp_path: Path, lines: list[bytes], *flags: str) -> tuple[int, list[dict], str]:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.jsonl"
    code = main(["dedup", str(source), "-o", str(out), *flags])
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    return code, rows, ""


def doc(doc_id: object, text: str = TEXT) -> bytes:
    return json.dumps({"id": doc_id, "text": text}).encode()


def test_clean_input_exits_0_and_a_bom_is_accepted(tmp_path: Path) -> None:
    code, rows, _ = run(tmp_path, [b"\xef\xbb\xbf" + doc("a"), doc("b", TEXT + " More.")])
    assert code == EXIT_OK
    assert [r["id"] for r in rows] == ["a", "b"]
    assert rows[1]["duplicate_of"] == "a"


def test_a_bad_line_stops_the_run_but_keeps_what_came_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, rows, _ = run(tmp_path, [doc("a"), b"{not json", doc("c")])
    assert code == EXIT_FAILED
    assert [r["id"] for r in rows] == ["a"]  # written, not lost
    assert "line 2: not JSON" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b"{not json", "line 2: not JSON"),
        (b'{"text": "no id"}', "line 2: needs an object with 'id'"),
        (b'{"id": "x", "text": 5}', "line 2: needs an object with 'id'"),
        (b'{"id": "\\ud800", "text": "a lone surrogate in the id"}', "line 2: 'id' or 'url'"),
        (b'{"id": "y", "text": "caf\xe9"}', "line 2: not UTF-8"),
        (doc("a"), 'line 2: id "a" repeats line 1'),
    ],
)
def test_skip_bad_reports_each_bad_line_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: bytes, reason: str
) -> None:
    code, rows, _ = run(tmp_path, [doc("a"), bad, doc("c", TEXT + " Again.")], "--skip-bad")
    assert code == EXIT_BAD_LINES
    assert [r["id"] for r in rows] == ["a", "c"]
    assert rows[1]["duplicate_of"] == "a"
    err = capsys.readouterr().err
    assert reason in err and "1 bad lines skipped" in err


def test_texts_without_words_are_reported_not_linked(tmp_path: Path) -> None:
    code, rows, _ = run(tmp_path, [doc("a", "..."), doc("b", "..."), doc("c", "★ ☆ ♥")])
    assert code == EXIT_OK
    assert all(r["duplicate_of"] is None and r["reason"] == "no_words" for r in rows)
    assert len({r["cluster"] for r in rows}) == 3


def test_a_lone_surrogate_in_a_text_is_cleaned_not_fatal(tmp_path: Path) -> None:
    line = json.dumps({"id": "s", "text": TEXT + "\ud800"}).encode()
    code, rows, _ = run(tmp_path, [doc("a"), line])
    assert code == EXIT_OK and rows[1]["duplicate_of"] == "a"


def test_window_forgets_older_documents(tmp_path: Path) -> None:
    lines = [doc("a"), doc("b", OTHER), doc("c", OTHER + " x"), doc("d", TEXT + " Late.")]
    code, rows, _ = run(tmp_path, lines, "--window", "2")
    assert code == EXIT_OK
    by_id = {r["id"]: r for r in rows}
    assert by_id["c"]["duplicate_of"] == "b"
    assert by_id["d"]["duplicate_of"] is None  # "a" was three documents back: forgotten
    code, rows, _ = run(tmp_path, lines)
    assert {r["id"]: r for r in rows}["d"]["duplicate_of"] == "a"
