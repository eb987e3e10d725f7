"""The outlet registry: built-in files load; malformed files fail naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.registry import OutletError, load_outlet_file, load_registry

GOOD = """
id = "example"
name = "Example News"
homepage = "https://www.example.com/"
language = "en"
allowed_domains = ["example.com"]
article_url_patterns = ['/news/\\d+']

[[sources]]
kind = "rss"
url = "https://www.example.com/rss.xml"
"""


def write(tmp_path: Path, text: str, name: str = "example") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_presstv_loads_with_its_sources() -> None:
    outlets = load_registry()
    presstv = outlets["presstv"]
    assert presstv.language == "en"
    kinds = {s.kind for s in presstv.sources}
    assert {"robots", "rss"} <= kinds
    assert presstv.is_article_url("https://www.presstv.ir/Detail/2015/09/10/428783/Some-Slug")
    assert not presstv.is_article_url("https://www.presstv.ir/Section/10101")
    assert not presstv.is_article_url("https://evil.example/Detail/2015/09/10/428783/Some-Slug")


def test_user_folder_adds_outlets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, GOOD)
    monkeypatch.setenv("NEWSCRAWL_OUTLETS_DIR", str(tmp_path))
    outlets = load_registry()
    assert {"presstv", "example"} <= set(outlets)
    assert outlets["example"].sources[0].url == "https://www.example.com/rss.xml"


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        (("language", 'language = "en"\ncolour = "red"'), "colour", "unknown key"),
        (
            ('url = "https://www.example.com/rss.xml"', 'url = "ftp://www.example.com/rss.xml"'),
            "sources[0].url",
            "not an http(s) URL",
        ),
        (
            ('url = "https://www.example.com/rss.xml"', 'url = "https://elsewhere.org/rss.xml"'),
            "sources[0].url",
            "outside allowed_domains",
        ),
        (('kind = "rss"', 'kind = "carrier-pigeon"'), "sources[0].kind", "must be one of"),
        ((r"['/news/\d+']", "['/news/(']"), "article_url_patterns[0]", "bad regular expression"),
        (
            ('homepage = "https://www.example.com/"', 'homepage = "not a url"'),
            "homepage",
            "not an http(s) URL",
        ),
        (('id = "example"', 'id = "other"'), "id", "must equal the file name"),
        (('name = "Example News"\n', ""), "name", "missing required key"),
        (('language = "en"', 'language = "en"\nenabled = "no"'), "enabled", "true or false"),
        (
            (
                'url = "https://www.example.com/rss.xml"',
                'url = "https://www.example.com/rss.xml"\n[extraction]\n'
                "drop_line_patterns = ['x?']",
            ),
            "extraction.drop_line_patterns[0]",
            "matches every line",
        ),
    ],
)
def test_malformed_outlet_names_file_and_key(
    tmp_path: Path, change: tuple[str, str], key: str, problem: str
) -> None:
    old, new = change
    text = GOOD.replace(old, new) if old != "language" else GOOD.replace('language = "en"', new)
    assert text != GOOD
    path = write(tmp_path, text)
    with pytest.raises(OutletError) as err:
        load_outlet_file(path)
    assert err.value.path == str(path)
    assert err.value.key == key
    assert problem in str(err.value)
    assert str(path) in str(err.value)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "id = ")
    with pytest.raises(OutletError, match="invalid TOML") as err:
        load_outlet_file(path)
    assert str(path) in str(err.value)


def test_a_disabled_outlet_is_crawled_only_when_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user file replaces the built-in Press TV with ``enabled = false``: a crawl of "all"
    leaves it out (an offline cron run no longer fails on it), naming it still crawls it, and
    ``newscrawl outlets`` says so."""
    from crawler import cli
    from crawler.cli.common import UsageError, prepare

    builtin = load_registry()["presstv"]
    text = Path(builtin.path).read_text(encoding="utf-8")
    write(tmp_path, text.replace('language = "en"', 'language = "en"\nenabled = false'), "presstv")
    write(tmp_path, GOOD)
    db = f"sqlite:///{tmp_path / 'corpus.db'}"
    assert prepare(db, str(tmp_path), []) == ["example"]
    assert prepare(db, str(tmp_path), ["presstv"]) == ["presstv"]
    assert cli.main(["outlets", "--outlets-dir", str(tmp_path)]) == 0
    listed = {line.split("\t")[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "(disabled" in listed["presstv"] and "(disabled" not in listed["example"]
    (tmp_path / "example.toml").unlink()
    with pytest.raises(UsageError, match="every outlet is disabled"):
        prepare(db, str(tmp_path), [])


def test_a_homepage_source_loads_with_patterns_and_is_refused_without(tmp_path: Path) -> None:
    text = GOOD.replace('kind = "rss"', 'kind = "homepage"').replace("/rss.xml", "/")
    outlet = load_outlet_file(write(tmp_path, text))
    assert [s.kind for s in outlet.sources] == ["homepage"]
    bare = "\n".join(line for line in text.splitlines() if "article_url_patterns" not in line)
    with pytest.raises(OutletError, match="article_url_patterns: required with a homepage"):
        load_outlet_file(write(tmp_path, bare))
