"""``newscrawl extract`` on many pages: FILE=URL arguments, the JSON Lines manifest, standard
input used once, the default number of jobs (pure functions of crawler/cli/extract_batch.py)."""

from __future__ import annotations

import json

import pytest

from crawler.cli.common import UsageError
from crawler.cli.extract_batch import (
    PageTask,
    check_stdin_once,
    default_jobs,
    read_manifest,
    split_file_url,
    tasks_from_arguments,
)


@pytest.mark.parametrize(
    ("arg", "file", "url"),
    [
        ("page.html", "page.html", None),
        ("page.html=https://example.com/a", "page.html", "https://example.com/a"),
        ("page.html=http://example.com/a", "page.html", "http://example.com/a"),
        ("page.html=HTTPS://example.com/a", "page.html", "HTTPS://example.com/a"),
        # an = in the file name stays in the file name
        ("a=b.html", "a=b.html", None),
        (
            "q=1&r=2.html.gz=https://x.example/?q=1&r=2",
            "q=1&r=2.html.gz",
            "https://x.example/?q=1&r=2",
        ),
        # the first = followed by a scheme splits; a later one belongs to the URL
        (
            "p.html=https://x.example/?next=https://y.example/",
            "p.html",
            "https://x.example/?next=https://y.example/",
        ),
        # not a URL after the =: a file name
        ("p.html=ftp://x.example/", "p.html=ftp://x.example/", None),
        ("p.html=example.com/a", "p.html=example.com/a", None),
        ("-=https://example.com/a", "-", "https://example.com/a"),
    ],
)
def test_a_file_argument_splits_at_the_first_equals_sign_before_a_scheme(
    arg: str, file: str, url: str | None
) -> None:
    assert split_file_url(arg) == PageTask(file, url)


def test_a_url_with_no_file_before_it_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no file before the URL"):
        split_file_url("=https://example.com/a")


def test_url_names_the_page_of_a_single_bare_file() -> None:
    assert tasks_from_arguments(["p.html"], "https://e.example/a") == [
        PageTask("p.html", "https://e.example/a")
    ]
    assert tasks_from_arguments(["a.html", "b.html=https://e.example/b"], None) == [
        PageTask("a.html"),
        PageTask("b.html", "https://e.example/b"),
    ]
    with pytest.raises(UsageError, match=r"^--url: names one page"):
        tasks_from_arguments(["a.html", "b.html"], "https://e.example/a")
    with pytest.raises(UsageError, match=r"^--url: 'a\.html=https://e\.example/b' already names"):
        tasks_from_arguments(["a.html=https://e.example/b"], "https://e.example/a")


def lines(*rows: object) -> list[bytes]:
    return [(r if isinstance(r, str) else json.dumps(r)).encode() + b"\n" for r in rows]


def test_a_manifest_gives_each_page_its_url_and_outlet_with_its_line_number() -> None:
    manifest = lines(
        {"file": "a.html", "url": "https://e.example/a"},
        "",  # blank lines are skipped, and still counted
        {"file": "b=c.html.gz", "url": "http://e.example/b", "outlet": "bbc"},
        {"file": "d.html"},
        {"file": "e.html", "url": None},
    )
    assert read_manifest(manifest) == [
        PageTask("a.html", "https://e.example/a", None, 1),
        PageTask("b=c.html.gz", "http://e.example/b", "bbc", 3),
        PageTask("d.html", None, None, 4),
        PageTask("e.html", None, None, 5),
    ]
    assert read_manifest([b'{"file": "last.html"}']) == [PageTask("last.html", None, None, 1)]


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("file: a.html", r"not JSON \(Expecting value\)"),
        ('{"file": "a.html"', "not JSON"),
        ('["a.html", "https://e.example/a"]', "expected an object"),
        ({"url": "https://e.example/a"}, 'no "file"'),
        ({"file": ""}, 'no "file"'),
        ({"file": 7}, 'no "file"'),
        ({"file": "a.html", "url": "e.example/a"}, '"url" must start with http:// or https://'),
        ({"file": "a.html", "url": 3}, '"url" must start with'),
        ({"file": "a.html", "outlet": ""}, '"outlet" must be an outlet id'),
        ({"file": "a.html", "URL": "https://e.example/a"}, "unknown key 'URL'"),
    ],
)
def test_a_bad_manifest_line_is_one_usage_error_naming_its_number(
    bad: object, problem: str
) -> None:
    manifest = lines({"file": "ok.html"}, {"file": "ok2.html"}, bad, {"file": "never.html"})
    with pytest.raises(UsageError, match=f"^--manifest: line 3: {problem}") as caught:
        read_manifest(manifest)
    assert "\n" not in str(caught.value)


def test_a_manifest_line_that_is_not_utf8_is_named() -> None:
    with pytest.raises(UsageError, match=r"^--manifest: line 2: not UTF-8$"):
        read_manifest([b'{"file": "a.html"}\n', b'{"file": "\xff.html"}\n'])


def test_standard_input_is_read_once() -> None:
    check_stdin_once([PageTask("-"), PageTask("a.html")], manifest_on_stdin=False)
    with pytest.raises(UsageError, match="can be given once"):
        check_stdin_once([PageTask("-"), PageTask("-", line=2)], manifest_on_stdin=False)
    with pytest.raises(UsageError, match=r"^--manifest: .* manifest line 4 cannot too"):
        check_stdin_once(
            [PageTask("a.html", line=1), PageTask("-", line=4)], manifest_on_stdin=True
        )
    with pytest.raises(UsageError, match="FILE - cannot too"):
        check_stdin_once([PageTask("-")], manifest_on_stdin=True)


def test_one_page_runs_alone_and_many_get_a_worker_per_core() -> None:
    assert default_jobs(1, 8) == 1
    assert default_jobs(2, 8) == 8
    assert default_jobs(100_000, 2) == 2
    assert default_jobs(5, None) == 1
