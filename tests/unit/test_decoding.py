"""Page bytes to text (crawler/decoding.py), where charset labels lie: pure functions, then the
spider's article callback on a frozen response, the extraction gate and a WARC read-back."""

from __future__ import annotations

import codecs
import gzip
import io
import json
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler import cli
from crawler.decoding import Undecodable, charset_from_content_type, decode_html
from crawler.extensions.warc import read_responses
from crawler.items import ArticleItem, Discovery, FetchFailure
from crawler.registry import load_registry
from pipelines.dedup.fingerprint import fingerprint
from pipelines.dedup.params import DedupParams
from pipelines.extract.page import ExtractionFailed, extract_page
from spiders.outlet import spider_class_for

# Two unrelated Arabic stories and a Persian one (written with Arabic yeh and kaf, as Persian
# pages in windows-1256 are), each encodable in windows-1256.
HEALTH = (
    "أعلنت وزارة الصحة اليوم عن افتتاح مستشفى جديد في العاصمة، وقال الوزير إن المشروع سيخدم "
    "آلاف المرضى في المناطق الشمالية ويضم أقساما للطوارئ والأطفال والعناية المركزة."
)
FOOTBALL = (
    "فاز المنتخب الوطني لكرة القدم على نظيره بثلاثة أهداف مقابل هدف واحد في المباراة التي "
    "أقيمت مساء أمس على الملعب الأولمبي، وتأهل بذلك إلى الدور النهائي من البطولة الإقليمية."
)
PERSIAN = (
    "وزارت بهداشت امروز از گشايش يك بيمارستان تازه در پايتخت خبر داد و وزير گفت كه اين طرح "
    "به هزاران بيمار در شمال كشور خدمت خواهد كرد و بخش هاي اورژانس و كودكان دارد."
)
KOSOVO = "Kosovo’s president said the “talks” would resume — after the elections in Priština."


def page(text: str, meta: str = "", paragraphs: int = 4) -> str:
    body = "".join(f"<p>{text} ({i})</p>" for i in range(paragraphs))
    return (
        f"<!DOCTYPE html><html><head>{meta}<title>Story</title></head>"
        f"<body><article>{body}</article></body></html>"
    )


@pytest.mark.parametrize(
    ("text", "meta"),
    [
        (HEALTH, "<meta charset='utf-8'>"),  # the header's lie repeated
        (FOOTBALL, ""),  # no meta at all
        (PERSIAN, "<meta http-equiv='Content-Type' content='text/html; charset=iso-8859-1'>"),
    ],
)
def test_windows_1256_labelled_utf8_is_decoded_not_replaced(text: str, meta: str) -> None:
    body = page(text, meta).encode("cp1256")
    html, encoding, evidence = decode_html(body, "utf-8")
    assert text in html and "\ufffd" not in html
    assert (encoding, evidence) == ("cp1256", "detected")


@pytest.mark.parametrize("label", ["iso-8859-1", "windows-1252", "gb2312", "euc-jp"])
def test_utf8_labelled_otherwise_is_utf8(label: str) -> None:
    html, encoding, evidence = decode_html(page(KOSOVO).encode("utf-8"), label)
    assert KOSOVO in html and "â€™" not in html
    assert (encoding, evidence) == ("utf-8", "utf-8")


def test_utf8_with_a_broken_sequence_stays_utf8() -> None:
    """A lone surrogate (or a truncated character) makes the bytes invalid UTF-8, but far more
    of them are valid multi-byte characters: not a reason to guess another encoding."""
    body = page(KOSOVO + " A lone surrogate \ud800 here.").encode("utf-8", "surrogatepass")
    html, encoding, evidence = decode_html(body, "utf-8")
    assert KOSOVO in html and html.count("\ufffd") == 3 * 4  # its 3 bytes, in 4 paragraphs
    assert (encoding, evidence) == ("utf-8", "utf-8-damaged")


def test_a_byte_order_mark_beats_the_label() -> None:
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le")):
        html, encoding, evidence = decode_html(bom + page(KOSOVO).encode(codec), "windows-1252")
        assert KOSOVO in html and not html.startswith("\ufeff")
        assert (encoding, evidence) == (codec, "bom")


def test_a_correct_label_is_believed() -> None:
    cases = [
        (HEALTH, "cp1256", "windows-1256"),
        ("Le ministre a annoncé l’ouverture d’un hôpital à Genève.", "cp1252", "iso-8859-1"),
        ("国务院总理今天在北京会见了来访的外国代表团，双方就经济合作交换了意见。", "gbk", "gb2312"),
    ]
    for text, codec, label in cases:
        html, _encoding, evidence = decode_html(page(text).encode(codec), label)
        assert text in html and evidence == "header", (label, evidence)
    # no header, as for a saved file: the page's own <meta charset>
    html, encoding, evidence = decode_html(
        page(HEALTH, "<meta charset='windows-1256'>").encode("cp1256"), None
    )
    assert HEALTH in html and (encoding, evidence) == ("cp1256", "meta")


def test_pure_windows_1256_bytes_without_any_label_are_detected() -> None:
    for text in (HEALTH, PERSIAN):
        html, encoding, evidence = decode_html(page(text).encode("cp1256"), None)
        assert text in html and (encoding, evidence) == ("cp1256", "detected")


def test_latin_text_ties_go_to_windows_1252_not_1250() -> None:
    text = "Le ministre a annoncé l'ouverture d'un hôpital à Genève. « Très bien », dit-il."
    html, encoding, _ = decode_html(page(text).encode("cp1252"), "utf-8")
    assert text in html and encoding == "cp1252"


def test_a_mostly_garbage_body_is_undecodable() -> None:
    junk = bytes(range(0x80, 0x100)) * 20  # no encoding reads this as text
    with pytest.raises(Undecodable):
        decode_html(b"<html><body><p>" + junk + b"</p></body></html>", "utf-8")
    # valid UTF-8 that is already U+FFFD at its source decodes, but is never extracted
    broken = page("\ufffd\ufffd\ufffd\ufffd \ufffd\ufffd\ufffd " * 30 + "ok").encode("utf-8")
    html, _, _ = decode_html(broken, "utf-8")
    with pytest.raises(ExtractionFailed) as err:
        extract_page(html, "https://news.example/a")
    assert err.value.reason == "undecodable"


def test_two_unrelated_mislabelled_articles_are_not_exact_copies() -> None:
    """Decoded as the header said, both were runs of U+FFFD: a handful of tokens left from
    digits and stray bytes, too few to index, so only the exact hash of that residue told them
    apart (and two stories with the same residue were exact copies). Decoded from their bytes
    they are two full texts."""
    prints = []
    for text in (HEALTH, FOOTBALL):
        html, _, _ = decode_html(page(text, paragraphs=6).encode("cp1256"), "utf-8")
        extracted = extract_page(html, "https://news.example/a")
        assert text in extracted.text
        prints.append(fingerprint(extracted.text, DedupParams()))
    assert all(fp.indexed for fp in prints)
    assert prints[0].exact != prints[1].exact
    a, b = (set(fp.shingles.tolist()) for fp in prints)
    assert len(a & b) / len(a | b) < 0.1  # a few common words' 5-grams, no more


def test_charset_from_content_type() -> None:
    assert charset_from_content_type(b"text/html; charset=UTF-8") == "utf-8"
    assert charset_from_content_type('text/html;charset="windows-1256"') == "cp1256"
    assert charset_from_content_type(b"text/html") is None
    assert charset_from_content_type(None) is None


def article_response(body: bytes, content_type: bytes) -> HtmlResponse:
    url = "https://www.presstv.ir/Detail/2025/01/01/1/story"
    discovery = Discovery(url=url, source_url="https://www.presstv.ir/rss", source_kind="rss")
    request = Request(url, meta={"discovery": discovery.to_meta(), "canonical_url": url})
    return HtmlResponse(
        url, body=body, headers={"Content-Type": content_type}, request=request, encoding=None
    )


def test_the_crawl_decodes_article_pages_by_their_bytes() -> None:
    spider = spider_class_for(load_registry()["presstv"])()
    body = page(HEALTH).encode("cp1256")
    (item,) = spider.parse_article(article_response(body, b"text/html; charset=utf-8"))
    assert isinstance(item, ArticleItem)
    assert HEALTH in item.html and "\ufffd" not in item.html
    junk = b"<html><body><p>" + bytes(range(0x80, 0x100)) * 20 + b"</p></body></html>"
    (failure,) = spider.parse_article(article_response(junk, b"text/html; charset=utf-8"))
    assert isinstance(failure, FetchFailure) and failure.reason == "undecodable"


def test_extract_command_decodes_a_saved_page_by_its_bytes(tmp_path: Path) -> None:
    saved = tmp_path / "fa.html.gz"
    saved.write_bytes(gzip.compress(page(PERSIAN, "<meta charset='utf-8'>").encode("cp1256")))
    out = io.StringIO()
    code = cli.cmd_extract(cli.build_parser().parse_args(["extract", str(saved)]), out=out)
    record = json.loads(out.getvalue())
    assert code == 0 and record["encoding"] == "cp1256"
    assert PERSIAN in record["text"]


def test_warc_records_decode_as_the_crawl_does(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        http = StatusAndHeaders(
            "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
        )
        body = page(PERSIAN).encode("cp1256")
        writer.write_record(
            writer.create_warc_record(
                "https://fa.example/1", "response", payload=io.BytesIO(body), http_headers=http
            )
        )
    (response,) = read_responses(path)
    assert response.url == "https://fa.example/1" and response.body == body
    assert PERSIAN in response.decode().text
    assert gzip.decompress(path.read_bytes())  # a plain gzipped WARC, as the crawl writes
