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
