from __future__ import annotations

from pipelines.extract.hygiene import clean_field, clean_text


def test_clean_text_removes_what_databases_disagree_on() -> None:
    dirty = "\ufeffHello\x00 wor\u200bld\ud800!\r\n\r\n\r\n\r\nNext\u00a0\u00a0para "
    assert clean_text(dirty) == "Hello world\ufffd!\n\nNext para"


def test_zwnj_is_kept_for_persian() -> None:
    assert clean_text("می\u200cخواهم") == "می\u200cخواهم"


def test_clean_field_is_one_line() -> None:
    assert clean_field("  A\n  title\t here ") == "A title here"
    assert clean_field("\u200b") is None


def test_clean_text_fast_and_slow_paths_give_clean_text() -> None:
    """Texts with nothing to clean take a shortcut; with or without it the result is NFC, has
    no control or invisible characters, single spaces, stripped lines and at most one blank
    line between paragraphs, and cleaning it again changes nothing."""
    import random
    import unicodedata

    rng = random.Random(3)
    spaces = [c for c in map(chr, range(0x3001)) if c.isspace()]
    alphabet = [*"ab z\n", *spaces, "\u200b", "\ufeff", "\x00", "\ud800", "\u200c", "e\u0301"]
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        cleaned = clean_text(text)
        assert clean_text(cleaned) == cleaned
        assert cleaned == unicodedata.normalize("NFC", cleaned)
        assert "  " not in cleaned and "\n\n\n" not in cleaned
        assert all(line == line.strip() for line in cleaned.split("\n"))
        assert not any(c in cleaned for c in "\x00\u200b\ufeff\ud800\t\r\u00a0\u3000")
    assert clean_text("a  b\u00a0c\t\n\n\n\n d \u2028") == "a b c\n\nd"
