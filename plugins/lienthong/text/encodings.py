"""The byte encodings Vietnamese text arrives in, and telling them apart.

Provincial systems export text in four encodings (SOURCES.md §3, rule D-K1): UTF-8, UTF-8 with
a byte order mark, Windows-1258, and TCVN3 (the "ABC" legacy fonts, VN3). All four are
ASCII-compatible: bytes below 0x80 are ASCII in each, and no byte of a multi-byte UTF-8
sequence is below 0x80, so delimiters, quotes and line breaks can be found before the
encoding is known.

Detection (``detect_encoding``)
-------------------------------
* A UTF-8 byte order mark decides ``utf-8-sig``.
* Text with non-ASCII bytes that is valid UTF-8 is UTF-8: Windows-1258 and TCVN3 Vietnamese
  almost never form valid UTF-8 sequences (that would take a toned capital or a combining
  tone mark followed by a symbol byte). When only some samples are valid UTF-8 (rows pasted
  from another system), the majority decides whether the file is UTF-8.
* Otherwise Windows-1258 and TCVN3 both decode every byte, and only a reader of Vietnamese
  can tell which reading is right. ``detect_encoding`` judges each reading word by word:
  a word with a non-ASCII letter is *plausible* when it is one Vietnamese syllable (an
  initial consonant the language has, a vowel group it spells, a final consonant, at most one
  tone mark, placed where either tone style puts it, a stop final only with the sắc or nặng
  tone), written in lower, Title or UPPER case, and not an UPPER word among Title-case words
  of the same field. Misreadings fail this quickly: Windows-1258 "Nguyễn" (``ê`` + combining
  tilde) read as TCVN3 is "Nguyờịn" (two tones), TCVN3 "Nguyễn" read as Windows-1258 is
  "NguyÔn" (mixed case), TCVN3 "Hà" is "Hµ" (not a letter). The reading with the larger share
  of plausible words wins; on a tie (a few short words both readings can spell: TCVN3 "Lý" is
  Windows-1258 "Lư"), the reading with more of the common syllables of names, places and
  administrative text wins; then the caller's hint (the manifest's claim); then Windows-1258,
  the more common of the two. ``Detection.certain`` is False when a tie-break decided.

Measured on 3,000 generated names and address details: every one is detected right from
that one field alone, in both legacy encodings. A single word can be ambiguous: of the 132
accented words of those names, 4 written in TCVN3 read as plausible, more common Windows-1258
words ("Cừ" as "Cơ", "Trúc" as "Tróc"); a file decides on all its fields together.

charset-normalizer is not used: it has no model of TCVN3 (a TCVN3 sample comes out as
``cp852``), and between UTF-8 and the legacy encodings a strict UTF-8 decode is both faster
and surer.

Decoding gives NFC text: Windows-1258 writes many toned letters as a base letter and a
combining tone mark (only some toned letters are in the code page), and NFC composes them.
TCVN3 is ``vietnamese.decode_tcvn3`` plus two steps that need the whole field: a short word
whose toned letter came out small ("Ký") among words all in capitals is a capital word, and a
word that starts with a small toned letter ("ánh") among Title-case words is a Title word.
"""

from __future__ import annotations

import codecs
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from lienthong.text.vietnamese import (
    as_new_style_tone,
    as_old_style_tone,
    decode_tcvn3,
    encode_tcvn3,
)

__all__ = [
    "ENCODINGS",
    "Detection",
    "canonical_encoding",
    "decode",
    "detect_encoding",
    "encode",
    "encodings_agree",
    "plausible_word",
    "score_words",
]

UTF8 = "utf-8"
UTF8_SIG = "utf-8-sig"
WINDOWS_1258 = "windows-1258"
TCVN3 = "tcvn3"
ASCII = "ascii"

ENCODINGS = (UTF8, UTF8_SIG, WINDOWS_1258, TCVN3)
"""The encodings a source may use, by the names this module reports."""

BOM = codecs.BOM_UTF8

# What a manifest or a configuration may call each encoding (compared lower case, with
# spaces, dashes and underscores removed).
_ALIASES = {
    "utf8": UTF8,
    "utf": UTF8,
    "unicode": UTF8,
    "utf8sig": UTF8_SIG,
    "utf8bom": UTF8_SIG,
    "utf8withbom": UTF8_SIG,
    "windows1258": WINDOWS_1258,
    "cp1258": WINDOWS_1258,
    "win1258": WINDOWS_1258,
    "1258": WINDOWS_1258,
    "tcvn3": TCVN3,
    "tcvn": TCVN3,
    "tcvn5712": TCVN3,
    "tcvn57121993": TCVN3,
    "vn3": TCVN3,
    "abc": TCVN3,
    "ascii": ASCII,
    "usascii": ASCII,
}


def canonical_encoding(name: str | None) -> str | None:
    """The name this module uses for an encoding named ``name``, or None if it is not one.

    ``"UTF-8"``, ``"utf8"`` → ``"utf-8"``; ``"cp1258"`` → ``"windows-1258"``; ``"TCVN3"``,
    ``"TCVN-5712"``, ``"ABC"`` → ``"tcvn3"``; ``"US-ASCII"`` → ``"ascii"``.
    """
    if name is None:
        return None
    key = re.sub(r"[\s_\-:]+", "", name.strip().lower())
    return _ALIASES.get(key)


def encodings_agree(detected: str | None, claimed: str | None) -> bool:
    """True when a file detected as ``detected`` fits a claim of ``claimed``.

    UTF-8 with and without a byte order mark agree (the mark is a signature, not another
    encoding); an all-ASCII file agrees with any claim of one of ``ENCODINGS`` (every one
    reads it the same). An unknown claim never agrees; no detection (empty file) always does.
    """
    if detected is None:
        return True
    claim = canonical_encoding(claimed)
    if claim is None:
        return False
    if detected == ASCII:
        return claim in (*ENCODINGS, ASCII)
    family = {UTF8_SIG: UTF8, ASCII: UTF8}
    return family.get(detected, detected) == family.get(claim, claim)


# ---------------------------------------------------------------------------------------------
# Decoding and encoding
# ---------------------------------------------------------------------------------------------


def decode(data: bytes, encoding: str, *, errors: str = "strict") -> str:
    """Decode ``data`` in one of ``ENCODINGS`` (or ``"ascii"``) to NFC text.

    ``errors`` is as for ``bytes.decode`` ("strict" raises UnicodeDecodeError on bytes the
    encoding does not define; "replace" puts U+FFFD there). TCVN3 defines every byte.
    """
    if data.isascii():
        return data.decode("ascii")
    if encoding == TCVN3:
        return _capitals_in_title_text(_capitals_in_capital_text(decode_tcvn3(data)))
    codec = {UTF8: "utf-8", UTF8_SIG: "utf-8-sig", WINDOWS_1258: "cp1258", ASCII: "ascii"}.get(
        encoding
    )
    if codec is None:
        raise ValueError(f"unknown encoding {encoding!r}; known: {ENCODINGS}")
    return unicodedata.normalize("NFC", data.decode(codec, errors))


_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
_WORD = re.compile(r"[^\W\d_]+")


def _capitals_in_capital_text(text: str) -> str:
    """TCVN3: "ĐĂNG Ký" → "ĐĂNG KÝ" when the other words of the text are all capitals.

    ABC all-capitals fonts put a capital with a tone mark on the small letter's byte, and
    ``decode_tcvn3`` reads it as a capital only inside a word with two other capitals; a
    short word ("KÝ", "HÀ") needs its neighbours to tell.
    """
    words = _WORD.findall(text)
    if len(words) < 2:
        return text
    small_toned = [w for w in words if w[:1].isupper() and not w.isupper()
                   and all(c.isupper() or c in _TONED_SMALL for c in w)]  # fmt: skip
    if not small_toned:
        return text
    others = [w for w in words if len(w) > 1 and w not in small_toned]
    if not others or not all(w.isupper() for w in others):
        return text
    return _WORD.sub(lambda m: m.group().upper() if m.group() in small_toned else m.group(), text)


def _capitals_in_title_text(text: str) -> str:
    """TCVN3: "Nguyễn Thị ánh Tuyết" → "Nguyễn Thị Ánh Tuyết" when the other words of the
    text are all Title case (a name, a title).

    TCVN3 has no capital with a tone mark: a word that starts with one (Ánh, Ý, Ủy) was
    written with the small letter's byte, and Vietnamese names capitalise every word. Text
    with any other word in small letters (a procedure's name, an address) is left as it is.
    """
    words = _WORD.findall(text)
    small_toned = [w for w in words if w[0] in _TONED_SMALL and w.islower()]
    if not small_toned:
        return text
    others = [w for w in words if w not in small_toned]
    if len(others) < 2 or not all(
        w[0].isupper() and (w[1:].islower() or len(w) == 1) for w in others
    ):
        return text
    return _WORD.sub(
        lambda m: m.group()[0].upper() + m.group()[1:] if m.group() in small_toned else m.group(),
        text,
    )


def encode(text: str, encoding: str, *, decompose_all: bool = False) -> bytes:
    """Encode ``text`` as a source system in ``encoding`` would write it.

    Windows-1258 is written the way Windows converts text: a toned letter that the code page
    has as one character (``à``, ``á``, ``ó``) is written as that byte, any other (``ễ``,
    ``ạ``, ``ử``) as its base letter and a combining tone mark. ``decompose_all`` writes every
    tone as a combining mark, as some Vietnamese converters do. TCVN3 is
    ``vietnamese.encode_tcvn3`` (capitals with a tone mark take the small letter's byte).
    Characters the encoding cannot hold raise UnicodeEncodeError (TCVN3: become ``?``).
    """
    if encoding in (UTF8, UTF8_SIG, ASCII):
        return text.encode("utf-8-sig" if encoding == UTF8_SIG else encoding)
    if encoding == TCVN3:
        return encode_tcvn3(text)
    if encoding != WINDOWS_1258:
        raise ValueError(f"unknown encoding {encoding!r}; known: {ENCODINGS}")
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        if char < "\x80":
            out.append(ord(char))
            continue
        parts = unicodedata.normalize("NFD", char)
        tone = "".join(mark for mark in parts if mark in _TONES)
        if not decompose_all or not tone:
            try:
                out += char.encode("cp1258")
                continue
            except UnicodeEncodeError:
                pass
        base = unicodedata.normalize("NFC", "".join(mark for mark in parts if mark not in _TONES))
        out += (base + tone).encode("cp1258")
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# Vietnamese plausibility
# ---------------------------------------------------------------------------------------------

_TONE_OF: dict[str, str] = {}
_BASE_OF: dict[str, str] = {}
_PLAIN_VOWELS = "aăâeêioôơuưy"
for _vowel in _PLAIN_VOWELS:
    _BASE_OF[_vowel] = _vowel
    for _mark in _TONES:
        _toned = unicodedata.normalize("NFC", _vowel + _mark)
        _TONE_OF[_toned] = _mark
        _BASE_OF[_toned] = _vowel
_TONED_SMALL = frozenset(_TONE_OF)
_CONSONANTS = frozenset("bcdđfghjklmnpqrstvwxz")
_SMALL_LETTERS = _CONSONANTS | frozenset(_BASE_OF)

# Initial consonants of Vietnamese syllables (f, j, w, z for minority names and loans).
_INITIAL_TEXT = "b c ch d đ g gh gi h k kh l m n ng ngh nh p ph qu r s t th tr v x f j w z"
_INITIALS = frozenset(_INITIAL_TEXT.split()) | {""}
_FINAL_TEXT = "c ch m n ng nh p t"
_FINALS = frozenset(_FINAL_TEXT.split()) | {""}
_STOP_FINALS = frozenset(("c", "ch", "p", "t"))
_STOP_TONES = frozenset(("\u0301", "\u0323"))  # sắc, nặng: the only tones on stop finals
# Vowel groups (tone marks left out) that end an open syllable, or take a final consonant.
_OPEN_GROUPS = frozenset((
    "a", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y", "ai", "ao", "au", "ay", "âu", "ây", "eo",
    "êu", "ia", "iu", "oa", "oe", "oi", "ôi", "ơi", "ua", "uê", "ui", "uơ", "uy", "ưa", "ưi",
    "ưu", "iêu", "yêu", "oai", "oay", "oeo", "uây", "uôi", "uya", "uyu", "ươi", "ươu", "êa",
    "ya", "uyê",
))  # fmt: skip
_CLOSED_GROUPS = frozenset((
    "a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y", "oa", "oă", "oe", "oo", "uâ",
    "uê", "uy", "iê", "yê", "uô", "ươ", "uyê", "êa",
))  # fmt: skip

_PIECE = re.compile(r"[^\s0-9!-/:-@\[-`{-~]+")
_VOWEL_RUN = re.compile(f"[{_PLAIN_VOWELS}]+")

# Frequent syllables of names, places, administrative and everyday text: the tie-break between
# two readings that both spell Vietnamese.
_COMMON_TEXT = """
    nguyễn trần lê phạm hoàng huỳnh phan vũ võ đặng bùi đỗ hồ ngô dương lý đinh trương mai
    văn thị hữu đức minh quang công thành xuân duy quốc đình trọng ngọc anh thu thanh phương
    bích kim mỹ thùy hồng khánh lan bảo bình cường dũng đạt định đông giang hải hiếu hòa
    hùng huy khoa kiên lâm long lộc mạnh nam nghĩa phong phúc quân sơn tài thắng thiện toàn
    trung tú tuấn việt vinh khải hưng chi dung diệp hà hạnh hằng hiền hoa huệ hương hường
    liên linh loan nga ngân nhung oanh quỳnh thảo thoa thúy thủy trang tuyết uyên vân yến
    nhàn khuê tâm thảo ánh hạnh nhi như quý tiến thịnh phú lợi lực tùng sáng sang
    đăng ký thường trú tạm khai sinh tử kết hôn cấp giấy phép xác nhận tình trạng nhân lý
    lịch tư pháp chứng thực bản sao chính đổi lại xây dựng đất đai quyền sử dụng hộ kinh
    doanh hồ sơ thủ tục hành dịch vụ trực tuyến tiếp nhận giải quyết hoàn đã đang thực hiện
    quá hạn xuyên nhiệm thể chế tầng dữ liệu nguồn ủy ban dân xã phường thị trấn tỉnh huyện
    thôn xóm ấp tổ khu phố số ngõ đường hẻm làng bản buôn thượng hạ tây bắc nội ngoại
    mới cũ của và các có được trong là người những một không cho với này đến tại về
    theo từ đơn vị chủ trì nội dung năm ngày tháng giao nộp trả kết quả bưu điện lệ phí
    học sinh viên giáo dục y tế bảo hiểm xã hội thuế lao động việc làm nông nghiệp
    cơ sở quốc gia công an chứng minh căn cước định danh điện tử triển khai đề án
"""
_COMMON = frozenset(_COMMON_TEXT.split())


def plausible_word(word: str) -> bool:
    """True when ``word`` (letters only, NFC) can be one Vietnamese syllable as written.

    Lower, Title or UPPER case; a known initial consonant, vowel group and final consonant;
    at most one tone mark, where the old or the new tone style puts it; a stop final
    (c, ch, p, t) only with the sắc or nặng tone. ASCII words are not judged here: they
    are plausible in every ASCII-compatible reading.
    """
    return _plausible(word)


@functools.lru_cache(maxsize=65536)
def _plausible(word: str) -> bool:
    if not (word.islower() or word.isupper() or (word[:1].isupper() and word[1:].islower())):
        return False
    lower = word.lower()
    if any(char not in _SMALL_LETTERS for char in lower):
        return False
    tones = [_TONE_OF[char] for char in lower if char in _TONE_OF]
    if len(tones) > 1:
        return False
    bases = "".join(_BASE_OF.get(char, char) for char in lower)
    runs = list(_VOWEL_RUN.finditer(bases))
    if len(runs) != 1:
        return False
    run = runs[0]
    initial, group, final = bases[: run.start()], run.group(), bases[run.end() :]
    # qu- and gi- are consonants before another vowel: quý, quyền, già, giữa (not gì).
    if initial == "q" and group.startswith("u") and len(group) > 1:
        initial, group = "qu", group[1:]
    elif initial == "g" and group.startswith("i") and len(group) > 1:
        initial, group = "gi", group[1:]
    if initial not in _INITIALS or final not in _FINALS:
        return False
    if group not in (_CLOSED_GROUPS if final else _OPEN_GROUPS):
        return False
    if final in _STOP_FINALS and not (tones and tones[0] in _STOP_TONES):
        return False
    return word in (as_old_style_tone(word), as_new_style_tone(word))


def score_words(text: str) -> tuple[int, int]:
    """Judge the words of one field of decoded text: (plausible words, judged words).

    Only words with a non-ASCII character are judged (see ``plausible_word``); an UPPER word
    among Title-case words of the same text counts as implausible.
    """
    return _score_words(text)


@functools.lru_cache(maxsize=65536)
def _score_words(text: str) -> tuple[int, int]:
    # Cached: a file repeats the same procedure names and many of the same names.
    score = _Score()
    _score_text(text, score)
    return score.plausible, score.judged


@dataclass
class _Score:
    judged: int = 0
    plausible: int = 0
    common: int = 0

    @property
    def share(self) -> float:
        return self.plausible / self.judged if self.judged else 0.0


def _score_text(text: str, score: _Score) -> None:
    """Add the words of one field (or line) of decoded text to ``score``."""
    pieces = _PIECE.findall(text)
    if not pieces:
        return
    # Names and titles are written Title case or all capitals throughout; an UPPER word in
    # a field of Title words is a misreading (TCVN3 VN1 capitals for Windows-1258 bytes).
    title_words = sum(1 for piece in pieces if len(piece) > 1 and piece[1:].islower())
    upper_words = sum(1 for piece in pieces if len(piece) > 1 and piece.isupper())
    odd_upper = title_words > upper_words
    for piece in pieces:
        if piece.isascii():
            continue
        score.judged += 1
        if odd_upper and len(piece) > 1 and piece.isupper():
            continue
        if _plausible(piece):
            score.plausible += 1
            if piece.lower() in _COMMON:
                score.common += 1


def _is_utf8(sample: bytes) -> bool:
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class Detection:
    """Which encoding a sample of bytes is in, and how sure that is.

    ``encoding`` is one of ``ENCODINGS``, ``"ascii"`` when every byte is ASCII (any of the
    four reads it the same), or None for no bytes at all. ``certain`` is False when the
    choice between Windows-1258 and TCVN3 came from a tie-break (common syllables, the hint,
    or the default). ``scores`` maps each legacy encoding to (plausible words, judged words).
    """

    encoding: str | None
    certain: bool
    reason: str
    scores: dict[str, tuple[int, int]] = field(default_factory=dict)


def detect_encoding(samples: Iterable[bytes], *, hint: str | None = None) -> Detection:
    """Tell which of ``ENCODINGS`` the byte strings ``samples`` (fields or lines of one file,
    each whole: never a multi-byte character cut in two) are written in.

    ``hint`` (e.g. the manifest's claim) only breaks a tie between Windows-1258 and TCVN3.
    The samples must not hold a byte order mark: the caller strips it and reports
    ``utf-8-sig`` (see the module docstring for the judgement).
    """
    non_ascii = [sample for sample in samples if not sample.isascii()]
    if not non_ascii:
        return Detection(ASCII, True, "every byte is ASCII")
    legacy = [sample for sample in non_ascii if not _is_utf8(sample)]
    if not legacy:
        return Detection(UTF8, True, "valid UTF-8 with non-ASCII characters")
    if len(legacy) * 2 < len(non_ascii):
        # A few legacy fields pasted into a UTF-8 file: the file is UTF-8.
        return Detection(
            UTF8,
            False,
            f"{len(non_ascii) - len(legacy)} of {len(non_ascii)} fields with non-ASCII "
            "characters are valid UTF-8",
        )

    # Valid UTF-8 fields in a legacy file are UTF-8 rows pasted in: judged on the others.
    scores = {WINDOWS_1258: _Score(), TCVN3: _Score()}
    for sample in legacy:
        for encoding, score in scores.items():
            _score_text(decode(sample, encoding, errors="replace"), score)
    summary = {name: (score.plausible, score.judged) for name, score in scores.items()}
    cp, tcvn = scores[WINDOWS_1258], scores[TCVN3]
    if cp.share != tcvn.share:
        winner = WINDOWS_1258 if cp.share > tcvn.share else TCVN3
        loser = TCVN3 if winner == WINDOWS_1258 else WINDOWS_1258
        return Detection(
            winner,
            True,
            f"more words read as Vietnamese in {winner} ({scores[winner].plausible} of "
            f"{scores[winner].judged}) than in {loser} ({scores[loser].plausible} of "
            f"{scores[loser].judged})",
            summary,
        )
    if cp.common != tcvn.common:
        winner = WINDOWS_1258 if cp.common > tcvn.common else TCVN3
        return Detection(
            winner, False, f"both readings plausible; {winner} has more common syllables", summary
        )
    claim = canonical_encoding(hint)
    if claim in (WINDOWS_1258, TCVN3):
        return Detection(claim, False, "both readings equally plausible; the hint decided", summary)
    return Detection(
        WINDOWS_1258, False, "both readings equally plausible; windows-1258 by default", summary
    )
