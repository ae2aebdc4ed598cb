"""Rules P-K1 (canonical Vietnamese text) and P-K2 (name defects)."""

from __future__ import annotations

import itertools
import unicodedata

import pytest

from lienthong.text.vietnamese import (
    as_new_style_tone,
    as_noncanonical_tone,
    as_old_style_tone,
    as_tcvn3_mojibake,
    as_utf8_mojibake,
    decode_tcvn3,
    encode_tcvn3,
    name_defect,
    normalise_text,
)

# Real names (and syllables), written in the canonical placement.
REAL_NAMES = [
    "Nguyễn",
    "Hoàng",
    "Thủy",
    "Khoa",
    "Hòa",
    "Quý",
    "Huệ",
    "Xoan",
    "Toản",
    "Thúy",
    "Tuyết",
    "Khuê",
    "Giang",
    "Quyên",
    "Nhuận",
    "Nguyễn Văn An",
    "Trần Thị Thủy",
    "Lê Hoàng Quý",
    "Phạm Thị Hòa",
    "Đinh Thị Hoa",
    "Huỳnh Ngọc Quỳnh",
    "Võ Thị Khỏe",
    "Đỗ Minh Toàn",
    "Ngô Quang Huy",
    "Bùi Thị Nguyệt",
    "Dương Văn Được",
    "Lý Thị Giàu",
    "Kiều Thị Xuân",
    "Trương Thị Ánh Tuyết",
    "Đặng Ước",
    "Mai Ý Nhi",
    "Hồ Thị Ích",
    "Lương Thế Vinh",
    "Tạ Thị Khuyên",
    "Trịnh Công Sơn",
    "Giáp Thị Gìn",
    "Phan Thị Giữa",
    "Lò Văn Páo",
    "H'Hen Niê",
    "Y-Moan",
    "Ksor H'Ngai",
    "Rơ Châm Ơi",
    "Siu H'Yuih",
    "Mlô Y Nô",
    "Nay Phin",
    "Bdap Thị Zin",
    "Êban Y Jút",
    "Kpă Wil",
    "Hà Văn Fẻn",
    "Giàng A Páo",
    "Sùng Thị Mỷ",
    "NGUYỄN VĂN AN",
    "HOÀNG THỊ THỦY",
    "nguyễn văn an",
]


@pytest.mark.parametrize("name", REAL_NAMES)
def test_real_names_are_canonical_and_clean(name: str) -> None:
    assert normalise_text(name) == name
    assert name_defect(name) is None


@pytest.mark.parametrize("name", REAL_NAMES)
def test_normalise_is_idempotent_and_reads_nfd(name: str) -> None:
    once = normalise_text(name)
    assert normalise_text(once) == once
    decomposed = unicodedata.normalize("NFD", name)
    assert decomposed != name or name.isascii()
    assert normalise_text(decomposed) == name


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        # oa, oe, uy in open syllables: the mark moves to the first vowel.
        ("Hoà", "Hòa"),
        ("Thuỷ", "Thủy"),
        ("Thuý", "Thúy"),
        ("Khoẻ", "Khỏe"),
        ("hoạ", "họa"),
        ("Loè", "Lòe"),
        ("Tuỵ", "Tụy"),
        ("HOÀ", "HÒA"),
        ("THUỶ", "THỦY"),
        ("hoÀ", "hoÀ"),  # mixed case is no syllable to correct (and may be mojibake)
        # a final consonant: the last vowel, in both styles.
        ("Hòang", "Hoàng"),
        ("Tỏan", "Toản"),
        ("Hùynh", "Huỳnh"),
        ("Khỏang", "Khoảng"),
        # qu- and gi- are consonant clusters.
        ("Qúy", "Quý"),
        ("QÚY", "QUÝ"),
        ("qủa", "quả"),
        ("Gìa", "Già"),
        ("gịa", "giạ"),
        ("gìn", "gìn"),
        ("Gì", "Gì"),
        # modified vowels carry the mark, the second one in ươ.
        ("Ngũyên", "Nguyễn"),
        ("Hụê", "Huệ"),
        ("Nhùân", "Nhuần"),
        ("ngừơi", "người"),
        ("Tùyên", "Tuyền"),
        # three open vowels: the middle one.
        ("ngòai", "ngoài"),
        ("khủyu", "khuỷu"),
        # not one syllable, or two marks: left alone.
        ("Êbàn", "Êbàn"),
        ("hóà", "hóà"),
    ],
)
def test_tone_marks_are_placed_one_way(raw: str, canonical: str) -> None:
    assert normalise_text(raw) == canonical
    assert normalise_text(unicodedata.normalize("NFD", raw)) == canonical


def test_new_style_is_the_fixable_variant() -> None:
    assert as_new_style_tone("Hòa Thủy Thúy Khỏe") == "Hoà Thuỷ Thuý Khoẻ"
    assert as_noncanonical_tone("HÒA") == "HOÀ"
    assert as_old_style_tone("Hoà Thuỷ") == "Hòa Thủy"
    # Where the styles agree, the variant is the name itself.
    for name in ("Hoàng", "Quý", "Nguyễn", "Toản", "Huỳnh", "ngoài", "khuỷu"):
        assert as_new_style_tone(name) == name
    changed = 0
    for name in REAL_NAMES:
        variant = as_new_style_tone(name)
        changed += variant != name
        assert normalise_text(variant) == name
    # Thủy, Hòa, Thúy, Trần Thị Thủy, Phạm Thị Hòa, Võ Thị Khỏe, HOÀNG THỊ THỦY
    assert changed == 7


def test_nfd_and_misordered_marks_compose() -> None:
    assert normalise_text("Nguye\u0302\u0303n") == "Nguyễn"
    # tone before circumflex, as some input methods type it
    assert normalise_text("Nguye\u0303\u0302n") == "Nguyễn"
    assert normalise_text("Tra\u0300\u0302n") == "Trần"
    assert normalise_text("\u00ea\u0301") == "ế"


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("  Nguyễn   Văn\tAn \n", "Nguyễn Văn An"),
        ("Nguyễn\u00a0Văn\u00a0\u00a0An", "Nguyễn Văn An"),
        ("Lê\u3000Lợi", "Lê Lợi"),
        ("\u00d0inh Thị Hoa", "Đinh Thị Hoa"),
        ("\u00f0ỗ", "đỗ"),
        ("\u00d0\u00d0", "ĐĐ"),
        ("H\u2019Hen Niê", "H'Hen Niê"),
        ("Số 12, ngõ 3, phố Huế", "Số 12, ngõ 3, phố Huế"),
        ("  ", None),
        ("\t\u00a0\n", None),
        ("", None),
        (None, None),
    ],
)
def test_whitespace_eth_and_empty(raw: str | None, canonical: str | None) -> None:
    assert normalise_text(raw) == canonical


def test_ascii_fast_path_matches() -> None:
    assert normalise_text(" Ksor   H'Ngai ") == "Ksor H'Ngai"
    assert normalise_text("Nay\tPhin") == "Nay Phin"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        # UTF-8 bytes read as Windows-1252
        ("Nguyá»…n Văn An", "mojibake"),
        ("Tráº§n Thá»‹ Thá»§y", "mojibake"),
        ("Ã", "mojibake"),
        ("Ã‚n", "mojibake"),
        ("Ä\x90á»— Minh", "mojibake"),
        ("PhÃ¡t", "mojibake"),
        ("HÃ' A", "mojibake"),
        ("TÃ i", "mojibake"),
        ("HOÃ NG", "mojibake"),
        ("Nguy\ufffdn", "mojibake"),
        # TCVN3 bytes read as Latin-1
        ("NguyÔn", "mojibake"),
        ("TrÇn", "mojibake"),
        ("Lª", "mojibake"),
        ("§inh", "mojibake"),
        ("Hoµng", "mojibake"),
        ("H\u00adng", "mojibake"),
        ("Thñy", "mojibake"),
        ("YÕn", "mojibake"),
        ("HUúNH", "mojibake"),
        ("Huúnh", "mojibake"),
        ("Thóy", "mojibake"),
        ("NGUYÔN", "mojibake"),
        ("Vâ", "mojibake"),
        ("ThĐp", "mojibake"),  # Thép → ThÐp → (P-K1) ThĐp
        # control characters
        ("Nguyễn\x00An", "control character"),
        ("Nguyễn\u200bAn", "control character"),
        ("\ufeffNguyễn", "control character"),
        ("Nguyễn\x07", "control character"),
        # digits
        ("Nguyễn Văn 2", "digit"),
        ("Lê Văn A1", "digit"),
        ("Trần Thị Ⅳ", "digit"),
        # symbols
        ("Nguyễn Văn An (con)", "symbol"),
        ("Nguyễn.Văn", "symbol"),
        ("Lê, Văn", "symbol"),
        ("Nguyễn Văn @", "symbol"),
        ("-Moan", "symbol"),
        ("Y--Moan", "symbol"),
        ("H'", "symbol"),
        ("'", "symbol"),
        ("Nguyễn -", "symbol"),
        ("Иван", "symbol"),
        ("阮文", "symbol"),
        ("Nguyễn  An", "symbol"),  # not normalised: an empty word
    ],
)
def test_name_defect_reasons(name: str, reason: str) -> None:
    assert name_defect(name) == reason


def test_name_defect_clean_cases() -> None:
    assert name_defect(None) is None
    assert name_defect("Y-Moan") is None
    assert name_defect("Mã Văn Ân") is None
    assert name_defect("MÃ VĂN ÂN") is None
    assert name_defect("Nguyễn Thị Ê\u0306") is None  # Ê Đê ê̆: breve with no precomposed form
    assert name_defect("H'Ŏk Niê") is None  # Latin letters outside Latin-1 are letters
    assert name_defect("Ê\u0306\u0306") == "symbol"


SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Đặng", "Bùi", "Đỗ", "Dương", "Trịnh"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Ngọc"]
GIVEN = [
    "Tuấn", "Hương", "Hạnh", "Thủy", "Tuyết", "Phương", "Quỳnh", "Yến", "Uyên", "Cường",
    "Hiếu", "Khánh", "Lộc", "Thắng", "Việt", "Huệ", "Toản", "Khuê", "Nhuận", "Đạt",
]  # fmt: skip
FULL_NAMES = [" ".join(parts) for parts in itertools.product(SURNAMES, MIDDLE, GIVEN)]


def test_generated_mojibake_is_caught() -> None:
    assert len(FULL_NAMES) == 1000
    for name in FULL_NAMES:
        assert name_defect(normalise_text(name)) is None, name
        for spoil in (as_utf8_mojibake, as_tcvn3_mojibake):
            for text in (name, name.upper()):
                assert name_defect(normalise_text(spoil(text))) == "mojibake", (text, spoil)


def test_utf8_mojibake_examples() -> None:
    assert as_utf8_mojibake("Nguyễn") == "Nguyá»…n"
    assert as_utf8_mojibake("Trần") == "Tráº§n"
    # 0x90 is undefined in Windows-1252: shown as the C1 control U+0090
    assert as_utf8_mojibake("Đ") == "Ä\x90"
    assert as_utf8_mojibake("An") == "An"


def test_tcvn3_examples() -> None:
    assert as_tcvn3_mojibake("Nguyễn") == "NguyÔn"
    assert as_tcvn3_mojibake("Trần") == "TrÇn"
    assert as_tcvn3_mojibake("Lê") == "Lª"
    assert as_tcvn3_mojibake("Đinh") == "§inh"
    assert as_tcvn3_mojibake("Hưng") == "H\u00adng"
    assert encode_tcvn3("Đặng Thị Ước") == b"\xa7\xc6ng Th\xde \xa6\xedc"
    # capitals with a tone mark share the small letter's byte (all-capitals fonts)
    assert encode_tcvn3("NGUYỄN") == b"NGUY\xd4N"
    assert encode_tcvn3("Nguyễn") == b"Nguy\xd4n"
    assert encode_tcvn3("Ж") == b"?"


@pytest.mark.parametrize(
    "name",
    [
        *FULL_NAMES[::37],
        "Nguyễn Văn An",
        "Lê Thị Ước",
        "Đặng Hữu Phước",
        "NGUYỄN VĂN AN",
        "TRẦN THỊ THỦY",
        "Ăn Ân Ê Ô Ơ Ư Đ",
        "H'Hen Niê",
        "Số 12, ngõ 3, phố Huế; Hà Nội",
    ],
)
def test_tcvn3_round_trip(name: str) -> None:
    raw = encode_tcvn3(name)
    assert raw.decode("latin-1") == as_tcvn3_mojibake(name)
    assert decode_tcvn3(raw) == name


def test_decode_tcvn3_details() -> None:
    assert decode_tcvn3(b"Nguy\xd4n V\xa8n \xa7\xd7nh") == "Nguyễn Văn Đình"
    # too few capitals to know: the small letter stays
    assert decode_tcvn3(b"\xa7\xe7") == "Đỗ"
    # VN1 capitals and combining tone marks
    assert decode_tcvn3(b"\x80n") == "Àn"
    assert decode_tcvn3(b"a\xb3") == "á"
    assert decode_tcvn3(b"\r\n\t") == "\r\n\t"
