"""Vietnamese text: one canonical form (rule P-K1) and name defect detection (rule P-K2).

Canonical form (``normalise_text``)
-----------------------------------
NFC, trimmed, every run of whitespace (spaces, tabs, line breaks, NBSP, ...) collapsed to one
space, ``Ð``/``ð`` (U+00D0/U+00F0, Icelandic Eth, which legacy fonts and keyboards put where
``Đ``/``đ`` belong) read as ``Đ``/``đ``, typographic apostrophes (U+2019, U+02BC) read as ``'``
(so that "H’Hen" and "H'Hen" are one name), and one tone-mark placement.

Tone-mark placement. The two placements differ only in open syllables whose vowel cluster is
``oa``, ``oe`` or ``uy``:

* mark on the first vowel: ``hòa``, ``khỏe``, ``thủy``. Vietnamese usage calls this the
  traditional or old style (kiểu cũ); it is what keyboards (Unikey, the Windows and macOS
  Vietnamese keyboards) write by default.
* mark on the second vowel: ``hoà``, ``khoẻ``, ``thuỷ``. This is the style of the 1980s school
  spelling rules (kiểu mới, the new style), Unikey's "oà, uý" option.

**Canonical here: the mark on the first vowel (hòa, thúy, khỏe).** It is what most of the data
the sources send already holds, so P-K1 rewrites the fewest values and the canonical form is the
one people type when they search. ``as_new_style_tone`` (alias ``as_noncanonical_tone``) writes
the other placement, so that a generator can make a fixable variant.

Both styles agree everywhere else, and ``normalise_text`` also repairs placements that neither
style allows: a syllable with a final consonant carries the mark on its last vowel (``Hòang`` →
``Hoàng``, ``Tóan`` → ``Toán``); a modified vowel (ă â ê ô ơ ư) takes the mark, the second one in
``ươ`` (``Nguyễn``, ``người``); three open vowels carry it in the middle (``ngoài``, ``khuỷu``);
``qu`` and ``gi`` before another vowel are initial consonants, so ``qúy`` → ``quý`` and
``gìa`` → ``già`` (but ``gì``, ``gìn`` keep it). Words that are not one Vietnamese syllable (two
vowel groups such as "Êban", letters outside the Vietnamese alphabet, more than one tone mark)
are left as they are, and so are words in mixed case ("hoÀ", "NguyÔn": no way a syllable is
written, and often mojibake for P-K2 to catch). Placement works on letters, so NFD input and
lower, Title and UPPER case words get the same result.

Defects (``name_defect``)
-------------------------
A clean name holds only letters, spaces, ``'`` and ``-``; every word starts and ends with a
letter. Letters are the Vietnamese alphabet plus f, j, w, z (names of ethnic minorities:
"H'Hen Niê", "Ksor H'Ngai") and Latin letters outside Latin-1 such as ``č ŏ ŭ`` (Ê Đê, Jarai and
Bahnar spellings, with the combining breve U+0306 where there is no precomposed letter).
Reasons, the first that applies:

* ``mojibake``: text decoded in the wrong encoding.

  - UTF-8 read as Windows-1252: "Nguyá»…n", "Tráº§n", "Ã€". Every Vietnamese letter outside
    ASCII leaves a Latin-1 or Windows-1252 character that is not a Vietnamese letter ("»", "º",
    "Ä", "€", a C1 control) or "Ã"/"Â" followed by one.
  - TCVN3 (ABC fonts) read as Latin-1: "NguyÔn" (Nguyễn), "TrÇn" (Trần), "Lª" (Lê), "§inh"
    (Đinh). Most TCVN3 bytes read as symbols (¸ µ ¶ · ¹ ¨ © ª « ® ¬ §) or as Latin letters that
    Vietnamese never uses (Ç Ñ Ö ï ñ ...); the others read as Vietnamese letters, but in the
    wrong case (a real name's word is Title, UPPER or lower case: "NguyÔn", "HUúNH" are not) or
    in a vowel group Vietnamese spelling does not have ("Huúnh" for Huỳnh, "NGUYÔN", "Vâ" for
    Võ). Both tells are only read in words holding a Latin-1 letter, so ASCII spellings of
    minority names ("Ksor", "Mlô") never trip them.

  A word that is only "Ã" or "ã" (UTF-8's lead byte for à-ý; no Vietnamese word) and "Ã"/"Â"
  before a space that was NBSP ("TÃ i" for Tài) are mojibake too.
  Any character from U+0080 to U+00FF that is not a Vietnamese letter counts as mojibake:
  Vietnamese text has no use for them, and that is how they get into it. A TCVN3 byte whose
  Latin-1 reading is itself a plausible letter (``ú`` → "ó", ``ý`` → "ý") cannot be told apart,
  and is not flagged.
* ``control character``: a Unicode control or format character (category C*).
* ``digit``: any number character.
* ``symbol``: anything else: punctuation, other scripts, a word that starts or ends with ``'`` or
  ``-``, a name with no letter.

TCVN3
-----
TCVN 5712:1993 defines VN1 (every letter, capitals over C0 and C1 control positions), VN2 and
VN3. VN3 is the one the "ABC" fonts (.VnTime, .VnArial, ...) implement: all small letters and only
the seven capitals Ă Â Ê Ô Ơ Ư Đ; capitals with a tone mark were typed with the matching
all-capitals font (.VnTimeH), which puts them on the bytes of the small letters. The byte table
below is VN3, as published in TCVN 5712:1993 and in the X11 ``TCVNtoUCS2`` conversion table
(XFree86, X-TrueType); ``decode_tcvn3`` also reads the VN1-only capitals at 0x80–0xFF.
"""

from __future__ import annotations

import functools
import re
import unicodedata

__all__ = [
    "as_new_style_tone",
    "as_noncanonical_tone",
    "as_old_style_tone",
    "as_tcvn3_mojibake",
    "as_utf8_mojibake",
    "decode_tcvn3",
    "encode_tcvn3",
    "name_defect",
    "normalise_text",
]

# ---------------------------------------------------------------------------------------------
# The Vietnamese alphabet
# ---------------------------------------------------------------------------------------------

# Tone marks as combining characters: huyền, sắc, ngã, hỏi, nặng.
_TONE_MARKS = ("\u0300", "\u0301", "\u0303", "\u0309", "\u0323")
# Vowels without tone; the six with a modifier (breve, circumflex, horn) take the tone mark first.
_VOWELS = "aăâeêioôơuưy"
_MODIFIED_VOWELS = frozenset("ăâêôơư")

# toned small vowel -> (vowel without tone, tone mark); (vowel, tone mark) -> toned small vowel.
_TONED_SPLIT: dict[str, tuple[str, str]] = {}
_TONED_COMPOSE: dict[tuple[str, str], str] = {}
for _vowel in _VOWELS:
    for _mark in _TONE_MARKS:
        _toned = unicodedata.normalize("NFC", _vowel + _mark)
        _TONED_SPLIT[_toned] = (_vowel, _mark)
        _TONED_COMPOSE[(_vowel, _mark)] = _toned

_SMALL_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzđ" + _VOWELS + "".join(_TONED_SPLIT))
_VIETNAMESE_LETTERS = _SMALL_LETTERS | frozenset(c.upper() for c in _SMALL_LETTERS)

# P-K1 character fixes: Eth for Đ, typographic apostrophes for the ASCII one.
_CHARACTER_FIXES = str.maketrans({"\u00d0": "Đ", "\u00f0": "đ", "\u2019": "'", "\u02bc": "'"})
_COMBINING_MODIFIERS = frozenset("\u0302\u0306\u031b")  # circumflex, breve, horn
_ANY_COMBINING = re.compile(r"[\u0300-\u036f]")
_LETTER_RUN = re.compile(r"[^\W\d_]+")

# ---------------------------------------------------------------------------------------------
# P-K1: canonical form
# ---------------------------------------------------------------------------------------------


# Names and address details repeat (family names, street names): the canonical form and the
# defect of a text are worth remembering. Bounded, so memory stays flat however long the feed.
@functools.lru_cache(maxsize=32768)
def normalise_text(value: str | None) -> str | None:
    """Return the P-K1 canonical form of a name or address detail.

    NFC, trimmed, inner whitespace runs (NBSP, tabs, line breaks included) collapsed to one
    space, ``Ð``/``ð`` read as ``Đ``/``đ``, ``’`` read as ``'``, and tone marks placed on the
    first vowel of open ``oa``/``oe``/``uy`` (``Hòa``, ``Thủy``; see the module docstring).
    None stays None; a string that is empty after trimming becomes None.
    """
    if value is None:
        return None
    if value.isascii():
        # Most address details and many names: nothing but whitespace can need fixing.
        return " ".join(value.split()) or None
    text = unicodedata.normalize("NFC", value)
    if _ANY_COMBINING.search(text):
        text = _reorder_marks(text)
    words = text.translate(_CHARACTER_FIXES).split()
    if not words:
        return None
    # A word of letters alone is one letter run: placed as a whole (cached), without a regular
    # expression calling back for each run (a tenth of a population item's preparation).
    return " ".join(
        [
            _old_style_word(word)
            if word.isalpha()
            else _LETTER_RUN.sub(_canonical_word_match, word)
            for word in words
        ]
    )


def as_old_style_tone(value: str) -> str:
    """Place tone marks the old (traditional) way, on the first vowel: ``hòa``, ``thủy``.

    This is the canonical placement; only the marks move (no trimming or other P-K1 fixes).
    """
    text = unicodedata.normalize("NFC", value)
    return _LETTER_RUN.sub(_canonical_word_match, text)


def as_new_style_tone(value: str) -> str:
    """Place tone marks the new way, on the second vowel of open oa/oe/uy: ``hoà``, ``thuỷ``.

    Not canonical: ``normalise_text`` turns the result back. Only the marks move.
    """
    text = unicodedata.normalize("NFC", value)
    return _LETTER_RUN.sub(lambda match: _new_style_word(match.group()), text)


# The placement ``normalise_text`` repairs, for generators of test data.
as_noncanonical_tone = as_new_style_tone


def _canonical_word_match(match: re.Match[str]) -> str:
    return _old_style_word(match.group())


def _reorder_marks(text: str) -> str:
    """Put vowel modifiers before tone marks so NFC can compose (``ê`` + acute typed as
    ``e`` + acute + circumflex by some input methods)."""
    out: list[str] = []
    marks: list[str] = []
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.combining(char):
            marks.append(char)
            continue
        if marks:
            out.extend(sorted(marks, key=lambda mark: mark not in _COMBINING_MODIFIERS))
            marks.clear()
        out.append(char)
    out.extend(sorted(marks, key=lambda mark: mark not in _COMBINING_MODIFIERS))
    return unicodedata.normalize("NFC", "".join(out))


@functools.lru_cache(maxsize=65536)
def _old_style_word(word: str) -> str:
    # Cached: names repeat the same few thousand syllables (Nguyễn, Thị, Văn ...).
    return _place_tone(word, new_style=False)


@functools.lru_cache(maxsize=65536)
def _new_style_word(word: str) -> str:
    return _place_tone(word, new_style=True)


def _place_tone(word: str, *, new_style: bool) -> str:
    """Move the one tone mark of a single-syllable word to the vowel that carries it."""
    lower = word.lower()
    bases: list[str] = []
    tone_at = -1
    tone = ""
    for index, char in enumerate(lower):
        split = _TONED_SPLIT.get(char)
        if split is None:
            if char not in _SMALL_LETTERS:
                return word  # not Vietnamese spelling: leave it alone
            bases.append(char)
            continue
        if tone_at >= 0:
            return word  # two tone marks: not a syllable we can place
        tone_at = index
        bases.append(split[0])
        tone = split[1]
    if tone_at < 0:
        return word
    if not (word.islower() or word.isupper() or word[1:].islower()):
        return word  # mixed case (NguyÔn, HoÃ): not a word to correct, maybe mojibake

    start = 0
    while start < len(bases) and bases[start] not in _VOWELS:
        start += 1
    # qu- and gi- before another vowel are consonant clusters: quý, già, giữa (not gì, gìn).
    if (
        start == 1
        and len(bases) > 2
        and bases[2] in _VOWELS
        and (bases[0] + bases[1]) in ("qu", "gi")
    ):
        start = 2
    end = start
    while end < len(bases) and bases[end] in _VOWELS:
        end += 1
    if end == start or any(base in _VOWELS for base in bases[end:]):
        return word  # no vowel, or two vowel groups (not one syllable)
    cluster = range(start, end)
    closed = end < len(bases)

    modified = [index for index in cluster if bases[index] in _MODIFIED_VOWELS]
    if modified:
        target = modified[-1]  # ươ takes it on ơ: người, rượu
    elif len(cluster) == 1:
        target = start
    elif closed:
        target = end - 1  # hoàng, toán, huỳnh, goòng
    elif len(cluster) == 2:
        pair = bases[start] + bases[start + 1]
        target = start + 1 if new_style and pair in ("oa", "oe", "uy") else start
    elif len(cluster) == 3:
        target = start + 1  # ngoài, xoáy, khuỷu, ngoẹo
    else:
        return word
    if target == tone_at:
        return word

    chars = list(word)
    chars[tone_at] = _with_case(bases[tone_at], word[tone_at])
    chars[target] = _with_case(_TONED_COMPOSE[(bases[target], tone)], word[target])
    return "".join(chars)


def _with_case(small: str, like: str) -> str:
    return small.upper() if like.isupper() else small


# ---------------------------------------------------------------------------------------------
# P-K2: defects
# ---------------------------------------------------------------------------------------------

# Windows-1252 as browsers and Windows read it: the five undefined bytes pass through as the C1
# control of the same number.
_CP1252_HIGH = "".join(
    bytes([byte]).decode("cp1252", errors="ignore") or chr(byte) for byte in range(0x80, 0x100)
)
_LATIN1_TO_CP1252 = str.maketrans(
    {chr(byte): _CP1252_HIGH[byte - 0x80] for byte in range(0x80, 0xA0)}
)
# How UTF-8 continuation bytes 0x80-0xBF look in Windows-1252 or Latin-1.
_CONTINUATION_IMAGES = frozenset(_CP1252_HIGH[:0x40]) | frozenset(map(chr, range(0x80, 0xC0)))
# Latin-1 and Windows-1252 characters that are not Vietnamese letters: Vietnamese text has no
# use for them, and both UTF-8-as-cp1252 and TCVN3-as-Latin-1 produce them.
_MOJIBAKE_CHARS = (
    (frozenset(map(chr, range(0x80, 0x100))) | frozenset(_CP1252_HIGH) | {"\ufffd"})
    - _VIETNAMESE_LETTERS
    - {"\u00a0"}
)  # NBSP is whitespace; P-K1 folds it first
# Vowel groups of Vietnamese syllables, tone marks left out (plus Ê Đê "êa", as in Êa Súp).
_VOWEL_GROUPS = frozenset((
    "a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y", "ai", "ao", "au", "ay", "âu",
    "ây", "eo", "êu", "ia", "iê", "iu", "oa", "oă", "oe", "oi", "oo", "ôi", "ơi", "ua", "uâ",
    "uă", "ue", "uê", "ui", "uô", "uơ", "uy", "ưa", "ưi", "ươ", "ưu", "yê", "êa", "iêu", "yêu",
    "oai", "oay", "oeo", "uai", "uay", "uây", "ueo", "uêu", "uôi", "uya", "uyê", "uyu", "ươi",
    "ươu",
))  # fmt: skip
_SMALL_CLASS = "".join(sorted(_SMALL_LETTERS))
_LETTER_CLASS = "".join(sorted(_VIETNAMESE_LETTERS))
_CONSONANT_CLASS = "bcdfghjklmnpqrstvwxzđBCDFGHJKLMNPQRSTVWXZĐ"
_MOJIBAKE_PATTERN = re.compile(
    # UTF-8 lead byte Â/Ã read as cp1252 followed by a continuation byte: Ã‚n, HÃ’A (after ’→')
    f"[ÂÃ]['{re.escape(''.join(sorted(_CONTINUATION_IMAGES)))}]"
    # ... or by NBSP (à is C3 A0), which P-K1 turned into a space: TÃ i, HOÃ NG
    f"|[ÂÃ] (?:[{_SMALL_CLASS}]|[{_CONSONANT_CLASS}]+(?![{_LETTER_CLASS}]))"
)
# Latin-1 letters and Đ (what Ð becomes): TCVN3 bytes read as Latin-1 give these.
_LATIN1_LETTERS = frozenset(char for char in map(chr, range(0xC0, 0x100)) if char.isalpha()) | {
    "Đ",
    "đ",
}
_CLEAN_CHARS = "".join(sorted(_VIETNAMESE_LETTERS))
# Fast path: words of Vietnamese letters joined by ' or -, separated by single spaces.
_CLEAN_NAME = re.compile(
    "[{0}]+(?:['-][{0}]+)*(?: [{0}]+(?:['-][{0}]+)*)*".format(re.escape(_CLEAN_CHARS))
)
_BREVE = "\u0306"


# Called on every canonical name, which repeat as normalise_text's do.
@functools.lru_cache(maxsize=32768)
def name_defect(value: str | None) -> str | None:
    """Return why a name fails P-K2, or None when it is clean.

    Apply to a name already passed through ``normalise_text``. None (no name) has no defect.
    A clean name holds only Vietnamese or Latin letters, spaces, ``'`` and ``-``, each word
    starting and ending with a letter, and no mojibake. Otherwise the reason, the first of:
    ``'mojibake'``, ``'control character'``, ``'digit'``, ``'symbol'`` (see the module
    docstring for what each covers).
    """
    if value is None:
        return None
    if value.isascii():
        mojibake = False
    else:
        mojibake = (
            bool(_MOJIBAKE_PATTERN.search(value))
            or any(char in _MOJIBAKE_CHARS for char in value)
            or any(_is_mojibake_word(word) for word in _LETTER_RUN.findall(value))
        )
    if mojibake:
        return "mojibake"
    if _CLEAN_NAME.fullmatch(value):
        return None
    categories = [unicodedata.category(char) for char in value]
    if any(category.startswith("C") for category in categories):
        return "control character"
    if any(category.startswith("N") for category in categories):
        return "digit"
    for word in value.split(" "):
        if not _is_clean_word(word):
            return "symbol"
    return None


@functools.lru_cache(maxsize=65536)
def _is_mojibake_word(word: str) -> bool:
    """A word that holds a Latin-1 letter and that no Vietnamese name holds.

    TCVN3 read as Latin-1 turns most small letters into other small letters (ỳ → ú, ụ → ô),
    into capitals (ễ → Ô), and in all-capitals text capitals into small ones. Two tells:

    * case: real names are written Title, UPPER or lower case ("NguyÔn", "YÕn", "HUúNH" are not);
    * vowels: a group of vowels with a Latin-1 letter that Vietnamese spelling does not have
      ("Huúnh", "Thóy", "NGUYÔN", "KIÒU").
    """
    if word.isascii() or not any(char in _LATIN1_LETTERS for char in word):
        return False
    if not (word.islower() or word.isupper() or word[1:].islower()):
        return True
    lower = word.lower()
    if lower == "ã":
        return True  # cp1252 image of UTF-8's lead byte for à-ý; no Vietnamese word
    bases = [_TONED_SPLIT.get(char, (char, ""))[0] for char in lower]
    index = 0
    while index < len(bases):
        if bases[index] not in _VOWELS:
            index += 1
            continue
        end = index
        while end < len(bases) and bases[end] in _VOWELS:
            end += 1
        group = "".join(bases[index:end])
        if index == 1 and bases[0] + group[:1] in ("qu", "gi") and len(group) > 1:
            group = group[1:]  # qu-, gi- are consonants: quý, già (but gì keeps its i)
            valid = group in _VOWEL_GROUPS and not (bases[0] == "q" and group[0] in "uư")
        else:
            valid = group in _VOWEL_GROUPS
        if group in ("â", "ă") and end == len(bases):
            valid = False  # â, ă never end a syllable: Vâ is Võ in TCVN3
        if not valid and any(char in _LATIN1_LETTERS for char in lower[index:end]):
            return True
        index = end
    return False


def _is_clean_word(word: str) -> bool:
    """A word of letters joined by single ' or -, starting and ending with a letter."""
    if not word:
        return False
    previous = ""
    after_letter = False  # the previous character is a letter (or a breve on one)
    for char in word:
        if char in "'-":
            if not after_letter:
                return False
            after_letter = False
        elif char == _BREVE:
            if not after_letter or previous == _BREVE:
                return False
        elif _is_letter(char):
            after_letter = True
        else:
            return False
        previous = char
    return after_letter


def _is_letter(char: str) -> bool:
    if char in _VIETNAMESE_LETTERS:
        return True
    # Other Latin letters (Latin-1's are mojibake, caught before this): č ŏ ŭ ĭ ĕ ƀ ...
    return char.isalpha() and unicodedata.name(char, "").startswith("LATIN ")


# ---------------------------------------------------------------------------------------------
# Mojibake, the way real systems make it
# ---------------------------------------------------------------------------------------------


def as_utf8_mojibake(value: str) -> str:
    """Return ``value`` as a Windows-1252 reader shows its UTF-8 bytes: "Nguyễn" → "Nguyá»…n".

    Bytes Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) come out as the C1
    control of the same number, as Windows and browsers show them ("Đ" → "Ä" + U+0090).
    """
    return value.encode("utf-8").decode("latin-1").translate(_LATIN1_TO_CP1252)


# TCVN3 (TCVN 5712:1993 VN3, "ABC" fonts). Sources: TCVN 5712:1993; the X11 TCVNtoUCS2 table
# (XFree86 X-TrueType, 1998). Written out here so the project has no codec dependency.
_TCVN3_BYTES: dict[str, int] = {
    "Ă": 0xA1, "Â": 0xA2, "Ê": 0xA3, "Ô": 0xA4, "Ơ": 0xA5, "Ư": 0xA6, "Đ": 0xA7,
    "ă": 0xA8, "â": 0xA9, "ê": 0xAA, "ô": 0xAB, "ơ": 0xAC, "ư": 0xAD, "đ": 0xAE,
    "à": 0xB5, "ả": 0xB6, "ã": 0xB7, "á": 0xB8, "ạ": 0xB9,
    "ằ": 0xBB, "ẳ": 0xBC, "ẵ": 0xBD, "ắ": 0xBE, "ặ": 0xC6,
    "ầ": 0xC7, "ẩ": 0xC8, "ẫ": 0xC9, "ấ": 0xCA, "ậ": 0xCB,
    "è": 0xCC, "ẻ": 0xCE, "ẽ": 0xCF, "é": 0xD0, "ẹ": 0xD1,
    "ề": 0xD2, "ể": 0xD3, "ễ": 0xD4, "ế": 0xD5, "ệ": 0xD6,
    "ì": 0xD7, "ỉ": 0xD8, "ĩ": 0xDC, "í": 0xDD, "ị": 0xDE,
    "ò": 0xDF, "ỏ": 0xE1, "õ": 0xE2, "ó": 0xE3, "ọ": 0xE4,
    "ồ": 0xE5, "ổ": 0xE6, "ỗ": 0xE7, "ố": 0xE8, "ộ": 0xE9,
    "ờ": 0xEA, "ở": 0xEB, "ỡ": 0xEC, "ớ": 0xED, "ợ": 0xEE,
    "ù": 0xEF, "ủ": 0xF1, "ũ": 0xF2, "ú": 0xF3, "ụ": 0xF4,
    "ừ": 0xF5, "ử": 0xF6, "ữ": 0xF7, "ứ": 0xF8, "ự": 0xF9,
    "ỳ": 0xFA, "ỷ": 0xFB, "ỹ": 0xFC, "ý": 0xFD, "ỵ": 0xFE,
}  # fmt: skip
# VN1 only: capitals with tone marks in the upper half, and the five tone marks as combining
# characters (0xB0-0xB4). VN1's capitals over C0 controls (0x01-0x17) are not read: sources
# disagree on them and a delimited file cannot carry them.
_TCVN_VN1_EXTRA: dict[int, str] = {
    0x80: "À", 0x81: "Ả", 0x82: "Ã", 0x83: "Á", 0x84: "Ạ", 0x85: "Ặ", 0x86: "Ậ", 0x87: "È",
    0x88: "Ẻ", 0x89: "Ẽ", 0x8A: "É", 0x8B: "Ẹ", 0x8C: "Ệ", 0x8D: "Ì", 0x8E: "Ỉ", 0x8F: "Ĩ",
    0x90: "Í", 0x91: "Ị", 0x92: "Ò", 0x93: "Ỏ", 0x94: "Õ", 0x95: "Ó", 0x96: "Ọ", 0x97: "Ộ",
    0x98: "Ờ", 0x99: "Ở", 0x9A: "Ỡ", 0x9B: "Ớ", 0x9C: "Ợ", 0x9D: "Ù", 0x9E: "Ủ", 0x9F: "Ũ",
    0xAF: "Ằ", 0xB0: "\u0300", 0xB1: "\u0309", 0xB2: "\u0303", 0xB3: "\u0301", 0xB4: "\u0323",
    0xBA: "Ẳ", 0xBF: "Ẵ", 0xC0: "Ắ", 0xC1: "Ầ", 0xC2: "Ẩ", 0xC3: "Ẫ", 0xC4: "Ấ", 0xC5: "Ề",
    0xCD: "Ể", 0xD9: "Ễ", 0xDA: "Ế", 0xDB: "Ồ", 0xE0: "Ổ", 0xF0: "Ỗ", 0xFF: "Ố",
}  # fmt: skip
_TCVN3_DECODE = str.maketrans(
    {chr(byte): char for char, byte in _TCVN3_BYTES.items()}
    | {chr(byte): char for byte, char in _TCVN_VN1_EXTRA.items()}
)
# Small toned letters, which in an all-capitals word stand for capitals (.VnTimeH fonts).
_TCVN3_SMALL_ONLY = frozenset(char for char in _TCVN3_BYTES if char in _TONED_SPLIT)


def encode_tcvn3(value: str) -> bytes:
    """Encode Vietnamese text in TCVN3 (VN3) bytes, the way an ABC-font document holds it.

    Capitals with a tone mark take the byte of the small letter (VN3 has none; all-capitals
    fonts draw that byte as the capital). Characters TCVN3 cannot hold become ``?``.
    """
    out = bytearray()
    for char in unicodedata.normalize("NFC", value):
        if char < "\x80":
            out.append(ord(char))
            continue
        byte = _TCVN3_BYTES.get(char)
        if byte is None:
            byte = _TCVN3_BYTES.get(char.lower(), ord("?"))
        out.append(byte)
    return bytes(out)


def as_tcvn3_mojibake(value: str) -> str:
    """Return ``value`` as its TCVN3 bytes read as Latin-1: "Nguyễn Đình" → "NguyÔn §×nh"."""
    return encode_tcvn3(value).decode("latin-1")


def decode_tcvn3(raw: bytes) -> str:
    """Decode TCVN3 (ABC, VN3; VN1 capitals and combining tone marks also read) to NFC text.

    A small toned letter inside a word otherwise written in capitals is taken as a capital
    ("NGUYễN" → "NGUYỄN"), because all-capitals ABC fonts put capitals on those bytes. A word
    with fewer than two other capitals ("Đỗ" or "ĐỖ") keeps the small letter.
    """
    text = unicodedata.normalize("NFC", raw.decode("latin-1").translate(_TCVN3_DECODE))
    if any(char in _TCVN3_SMALL_ONLY for char in text):
        text = _LETTER_RUN.sub(_capitals_word, text)
    return text


def _capitals_word(match: re.Match[str]) -> str:
    word = match.group()
    capitals = 0
    for char in word:
        if char in _TCVN3_SMALL_ONLY:
            continue
        if not char.isupper():
            return word
        capitals += 1
    return word.upper() if capitals >= 2 else word
