"""Bytes of an HTML page to text: one function for the crawl, ``newscrawl extract`` and WARC
records, so that a page decodes the same way wherever it is read.

Charset labels lie. Servers send ``charset=utf-8`` for windows-1256 pages (w3lib then gives
U+FFFD for every Arabic letter) and ``iso-8859-1`` for UTF-8 pages ("Kosovoâ€™s"). The evidence,
strongest first:

1. a byte order mark;
2. bytes that are valid UTF-8 and not plain ASCII are UTF-8, whatever the label says (text in
   another encoding is practically never valid UTF-8 by accident), and so are bytes with more
   valid multi-byte characters than broken sequences (UTF-8 with a lone surrogate in it);
3. the Content-Type header's charset, then the page's ``<meta charset>`` (or http-equiv), each
   believed only when the bytes decode under it without error and the text does not look like
   mojibake (charset-normalizer's mess ratio);
4. charset-normalizer's detection.

Detection is by charset-normalizer: maintained, MIT licensed, already installed with requests,
faster than chardet and built to tell a right decoding from a wrong one (the mess ratio used in
step 3), where cchardet no longer builds on current Pythons.

Text that is mostly U+FFFD after all that is not text: ``Undecodable`` (and ``garbled`` for
text that was extracted from a page), never stored or fingerprinted."""

from __future__ import annotations

import codecs
import re
from typing import NamedTuple

import charset_normalizer
from charset_normalizer.md import mess_ratio
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding
from w3lib.encoding import resolve_encoding as _w3lib_resolve

REPLACEMENT = "\ufffd"
#: Text in which more than this share of the non-space characters is U+FFFD is garbage.
GARBLED_SHARE = 0.1
#: A label's decoding that scores above this mess ratio is mojibake (charset-normalizer's own
#: default limit for a plausible decoding).
MESS_LIMIT = 0.2
#: Characters of a decoding scored for mess (from the first non-ASCII one): enough to judge,
#: bounded so a 10 MB page costs milliseconds.
MESS_SAMPLE = 20_000

_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class Decoded(NamedTuple):
    text: str
    encoding: str  # Python codec name: "utf-8", "cp1256", ...
    #: why this encoding: "bom", "utf-8" (valid UTF-8), "utf-8-damaged" (UTF-8 with a few
    #: broken bytes, replaced by U+FFFD), "ascii", "header", "meta", "detected", or "lossy"
    #: (nothing fitted; a few bytes replaced by U+FFFD)
    evidence: str


class Undecodable(ValueError):
    """No encoding gives text: the bytes are garbage, or in an encoding nothing recognises."""

    reason = "undecodable"  # the URL state's reason code

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


def charset_from_content_type(value: bytes | str | None) -> str | None:
    """The charset parameter of a Content-Type header value, if any."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    label: str | None = http_content_type_encoding(text)
    return label


def _codec(label: str | None) -> str | None:
    """A label's Python codec (WHATWG's aliases: latin-1 means windows-1252), or None."""
    if not label:
        return None
    resolved: str | None = _w3lib_resolve(label.strip().strip("\"'"))
    if not resolved:
        return None
    try:
        return codecs.lookup(resolved).name
    except LookupError:
        return None


def garbled(text: str) -> bool:
    """True when over GARBLED_SHARE of the non-space characters are U+FFFD."""
    bad = text.count(REPLACEMENT)
    if not bad:
        return False
    visible = len(text) - sum(text.count(c) for c in " \t\n\r\xa0")
    return bad > GARBLED_SHARE * max(visible, 1)


def _plausible(text: str) -> bool:
    first = _NON_ASCII_RE.search(text)
    start = first.start() if first else 0
    return mess_ratio(text[start : start + MESS_SAMPLE], MESS_LIMIT) < MESS_LIMIT


def _try(body: bytes, codec: str) -> str | None:
    try:
        text = body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None
    return text if _plausible(text) else None


#: Among detections that read equally well (Latin text is as clean in windows-1250, 1252 or
#: iso-8859-14: "à", "ŕ" or "ḋ"; their language-model coherence differs by noise on a short
#: page), the encoding more pages use wins.
_COMMON = ("cp1252", "cp1251", "cp1256", "cp932", "gb18030", "euc_kr", "euc_jp", "big5", "cp1250")
_TIE_CHAOS = 0.005  # charset-normalizer's own margin for "as clean"
_TIE_COHERENCE = 0.1


def _detect(body: bytes) -> charset_normalizer.CharsetMatch | None:
    matches = charset_normalizer.from_bytes(body)
    first = matches.best()
    if first is None:
        return None
    tied = [
        m
        for m in matches
        if m.chaos - first.chaos < _TIE_CHAOS and first.coherence - m.coherence < _TIE_COHERENCE
    ]
    for codec in _COMMON:
        for match in tied:
            if codec in match.could_be_from_charset:
                return match
    return first


def decode_html(body: bytes, header_charset: str | None) -> Decoded:
    """The page's text, its encoding and the evidence for it (see the module's docstring).
    ``header_charset`` is the Content-Type's charset label (None when there is none, as for a
    saved file). Raises Undecodable when the result would be mostly U+FFFD."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return Decoded(body[len(bom) :].decode(codec, "replace"), codec, "bom")
    if body.isascii():
        return Decoded(body.decode("ascii"), "ascii", "ascii")
    try:
        return Decoded(body.decode("utf-8"), "utf-8", "utf-8")
    except UnicodeDecodeError:
        pass
    utf8 = body.decode("utf-8", "replace")
    bad = utf8.count(REPLACEMENT)
    if len(utf8) - len(utf8.encode("ascii", "ignore")) - bad > bad:
        # More valid multi-byte characters than broken bytes: UTF-8 with some damage (a lone
        # surrogate, a truncated character), not another encoding, whose bytes form valid
        # UTF-8 sequences only by accident (windows-1256 Arabic: 4 in 500 letters).
        return Decoded(utf8, "utf-8", "utf-8-damaged")
    tried = {"utf-8"}
    for evidence, label in (
        ("header", header_charset),
        ("meta", html_body_declared_encoding(body)),
    ):
        declared = _codec(label)
        if declared is None or declared in tried:
            continue
        tried.add(declared)
        decoded = _try(body, declared)
        if decoded is not None:
            return Decoded(decoded, declared, evidence)
    best = _detect(body)
    if best is not None:
        return Decoded(str(best), _codec(best.encoding) or best.encoding, "detected")
    # Nothing fits: UTF-8 with the bad bytes replaced, kept only when they are few.
    if garbled(utf8):
        raise Undecodable(f"no encoding fits: {bad} of {len(utf8)} characters undecodable")
    return Decoded(utf8, "utf-8", "lossy")
