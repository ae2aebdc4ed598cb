"""Vietnamese byte encodings: names, round trips, and telling Windows-1258 from TCVN3."""

from __future__ import annotations

import unicodedata

import pytest

from lienthong.text import encodings
from lienthong.text.encodings import (
    TCVN3,
    UTF8,
    WINDOWS_1258,
    canonical_encoding,
    decode,
    detect_encoding,
    encode,
    encodings_agree,
    plausible_word,
)

# Text a TCVN3 (VN3) source can hold exactly: no capital with a tone mark (VN3 has none).
SAMPLES = (
    "Nguyễn Thị Hà",
    "Trần Văn Hùng",
    "Đặng Thu Thủy",
    "Phạm Quỳnh Anh",
    "Đăng ký thường trú",
    "Cấp phiếu lý lịch tư pháp",
    "Đăng ký khai sinh",
    "Chứng thực bản sao từ bản chính",
    "Xã Phước Lộc",
    "Huỳnh Ngọc Yến",
    "người được ủy quyền",
)


@pytest.mark.parametrize(
    ("claim", "name"),
    [
        ("UTF-8", "utf-8"),
        ("utf8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("cp1258", "windows-1258"),
        ("Windows-1258", "windows-1258"),
        ("TCVN3", "tcvn3"),
        ("TCVN-5712", "tcvn3"),
        ("ABC", "tcvn3"),
        ("US-ASCII", "ascii"),
        ("latin-1", None),
        (None, None),
    ],
)
def test_canonical_encoding_names(claim: str | None, name: str | None) -> None:
    assert canonical_encoding(claim) == name


def test_agreement_of_detection_and_claim() -> None:
    assert encodings_agree("utf-8-sig", "utf-8")
    assert encodings_agree("utf-8", "UTF8")
    assert encodings_agree("ascii", "windows-1258")
    assert encodings_agree("ascii", "utf-8")
    assert not encodings_agree("windows-1258", "utf-8")
    assert not encodings_agree("tcvn3", "windows-1258")
    assert not encodings_agree("utf-8", "latin-1")
    assert encodings_agree(None, "anything")


@pytest.mark.parametrize("encoding", [UTF8, "utf-8-sig", WINDOWS_1258, TCVN3])
@pytest.mark.parametrize("text", SAMPLES)
def test_round_trip_gives_nfc(encoding: str, text: str) -> None:
    data = encode(text, encoding)
    if encoding == "utf-8-sig":
        data = data[len(encodings.BOM) :]
    decoded = decode(data, encoding)
    assert decoded == text
    assert unicodedata.is_normalized("NFC", decoded)


def test_windows_1258_writes_combining_marks_where_the_code_page_lacks_the_letter() -> None:
    data = encode("Nguyễn", WINDOWS_1258)
    # ê (0xEA) then the combining tilde (0xDE): ễ is not in the code page.
    assert data == b"Nguy\xea\xden"
    # à is in the code page (0xE0): written precomposed unless every tone is decomposed.
    assert encode("Hà", WINDOWS_1258) == b"H\xe0"
    assert encode("Hà", WINDOWS_1258, decompose_all=True) == b"Ha\xcc"
    assert decode(b"Ha\xcc", WINDOWS_1258) == "Hà"


@pytest.mark.parametrize(
    "word",
    [
        "Nguyễn", "người", "quý", "già", "gì", "Huỳnh", "hoàng", "Thủy", "thuỷ", "HOÀNG",
        "khuỷu", "ngoài", "Đặng", "trường", "xóm", "Ấp", "Ủy", "Hoà", "Lư", "Lý", "nghiệp",
        "quyết", "giấy", "uống", "ước", "ĐƯỜNG",
    ],
)  # fmt: skip
def test_vietnamese_syllables_are_plausible(word: str) -> None:
    assert plausible_word(word)


@pytest.mark.parametrize(
    "word",
    [
        "NguyÔn",  # TCVN3 Nguyễn read as Windows-1258: mixed case
        "Nguyờịn",  # Windows-1258 Nguyễn read as TCVN3: two tones
        "Hµ",  # TCVN3 Hà read as Windows-1258: not a letter
        "hoàc",  # a stop final takes only sắc or nặng
        "thuyêt",  # ... and never no tone
        "Hă",  # ă never ends a syllable
        "Tiê",  # nor does iê
        "Nguyêñ",  # ñ is not Vietnamese
        "Hàà",  # two vowel groups... with two tones
        "Ph́",  # a stray combining mark
    ],
)
def test_misreadings_are_not_plausible(word: str) -> None:
    assert not plausible_word(word)


@pytest.mark.parametrize("encoding", [WINDOWS_1258, TCVN3])
@pytest.mark.parametrize("text", SAMPLES)
def test_detection_of_one_short_field(encoding: str, text: str) -> None:
    detection = detect_encoding([encode(text, encoding)])
    assert detection.encoding == encoding, detection


@pytest.mark.parametrize("encoding", [WINDOWS_1258, TCVN3])
def test_detection_with_a_single_accented_letter(encoding: str) -> None:
    # One name in a sea of ASCII: the decision rests on one word.
    samples = [b"received", b"1.001612", encode("Hà", encoding), b"online"]
    detection = detect_encoding(samples)
    assert detection.encoding == encoding


def test_windows_1258_fully_decomposed_is_detected() -> None:
    samples = [encode(text, WINDOWS_1258, decompose_all=True) for text in SAMPLES]
    assert detect_encoding(samples).encoding == WINDOWS_1258


def test_detection_of_utf8_ascii_and_tie_break_by_hint() -> None:
    assert detect_encoding([b"abc", b"def"]).encoding == "ascii"
    assert detect_encoding([]).encoding == "ascii"
    assert detect_encoding(["Nguyễn".encode()]).encoding == UTF8
    # TCVN3 "bú" (0xF3 = ú) reads "bó" in Windows-1258: both plausible, neither common.
    ambiguous = [b"b\xf3"]
    first = detect_encoding(ambiguous, hint="tcvn3")
    second = detect_encoding(ambiguous, hint="windows-1258")
    assert {first.encoding, second.encoding} == {TCVN3, WINDOWS_1258}
    assert not first.certain
    assert detect_encoding(ambiguous).encoding == WINDOWS_1258


def test_upper_case_names_in_tcvn3_are_detected() -> None:
    samples = [encode(text.upper(), TCVN3) for text in ("Nguyễn Văn An", "Trần Thị Bích")]
    detection = detect_encoding(samples)
    assert detection.encoding == TCVN3
    assert decode(samples[0], TCVN3) == "NGUYỄN VĂN AN"


def test_tcvn3_short_toned_capital_words_in_capital_text() -> None:
    assert decode(encode("ĐĂNG KÝ THƯỜNG TRÚ", TCVN3), TCVN3) == "ĐĂNG KÝ THƯỜNG TRÚ"
    assert decode(encode("NGUYỄN THỊ HÀ", TCVN3), TCVN3) == "NGUYỄN THỊ HÀ"
    # Title case text keeps its small letters.
    assert decode(encode("Đăng ký thường trú", TCVN3), TCVN3) == "Đăng ký thường trú"
    assert decode(encode("Lê Thị Hà", TCVN3), TCVN3) == "Lê Thị Hà"


def test_a_majority_of_utf8_fields_makes_the_file_utf8() -> None:
    utf8 = [text.encode() for text in SAMPLES[:5]]
    legacy = [encode(SAMPLES[5], WINDOWS_1258)]
    assert detect_encoding(utf8 + legacy).encoding == UTF8
    legacy_file = [encode(text, WINDOWS_1258) for text in SAMPLES[:5]] + utf8[:1]
    assert detect_encoding(legacy_file).encoding == WINDOWS_1258


def test_generated_names_and_addresses_are_detected_one_field_at_a_time() -> None:
    from lienthong_demo.dossier_files import demo_population

    people = demo_population(1000, seed=1)
    texts = [p["full_name"] for p in people] + [p["permanent_address"]["detail"] for p in people]
    texts = [text for text in texts if not text.isascii()]
    assert len(texts) > 1500
    for encoding in (WINDOWS_1258, TCVN3):
        wrong = [t for t in texts if detect_encoding([encode(t, encoding)]).encoding != encoding]
        assert wrong == [], (encoding, wrong[:10])
