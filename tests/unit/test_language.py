from pipelines.extract.language import decide_language, detect_language

EN = "The government announced on Tuesday that it would raise taxes on fuel next year."
ZH = "国务院周二宣布，明年将提高燃油税，以减少交通运输部门的碳排放并增加财政收入。"
FR = "Le gouvernement a annoncé mardi qu'il augmenterait les taxes sur le carburant l'an prochain."


def test_detect_language_names_the_language_with_a_confidence() -> None:
    for text, code in ((EN, "en"), (ZH, "zh"), (FR, "fr")):
        found = detect_language(text)
        assert found is not None and found[0] == code and 0.5 < found[1] <= 1.0


def test_detect_language_has_nothing_to_say_about_no_letters() -> None:
    assert detect_language("") is None
    assert detect_language("12 345 — 67") is None


def test_a_declaration_the_text_agrees_with_is_kept() -> None:
    assert decide_language(EN, "en-GB", "en")[::2] == ("en", "declared")


def test_an_outlet_declared_en_publishing_chinese_gets_zh() -> None:
    language, confidence, source = decide_language(ZH, None, "en")
    assert (language, source) == ("zh", "detected") and confidence and confidence >= 0.8


def test_a_confident_text_beats_a_wrong_page_declaration() -> None:
    assert decide_language(FR, "en", "en")[::2] == ("fr", "detected")


def test_a_short_text_keeps_the_declaration() -> None:
    assert decide_language("Brexit", "fr", "fr")[::2] == ("fr", "declared")


def test_nothing_declared_uses_the_text() -> None:
    assert decide_language(EN, None, "")[::2] == ("en", "detected")
