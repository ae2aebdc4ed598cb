"""Masking personal IDs and names for people who may look at the review but not act.

A personal ID keeps its first three characters (the birth-registration province, shared by
millions) and hides the rest; a name keeps each word's initial. Masking is done on what the
view shows (payloads, staged values, fixes, reasons), never on what is stored.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

MASK = "•"
_WORD = re.compile(r"\S+")


def mask_value(field: str, value: Any) -> Any:
    """One personal value, masked: IDs keep 3 characters, names their initials."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if not text:
        return text
    if "name" in field.rsplit(".", 1)[-1]:
        return _WORD.sub(lambda m: m.group(0)[0] + ".", text)
    return text[:3] + MASK * max(len(text) - 3, 3)


def mask_mapping(values: Mapping[str, Any], personal: Collection[str]) -> dict[str, Any]:
    """A payload (or staged row) with its personal fields masked, one level of objects deep."""
    masked: dict[str, Any] = {}
    for key, value in values.items():
        if key in personal:
            masked[key] = mask_value(key, value)
        elif isinstance(value, Mapping):
            masked[key] = {
                k: mask_value(f"{key}.{k}", v) if f"{key}.{k}" in personal or k in personal else v
                for k, v in value.items()
            }
        else:
            masked[key] = value
    return masked


def mask_text(text: str | None, secrets: Iterable[tuple[str, Any]]) -> str | None:
    """Free text (a rule's reason) with each (field, value) of ``secrets`` masked where it occurs."""
    if not text:
        return text
    for field, value in secrets:
        if isinstance(value, str) and len(value) >= 2:
            text = text.replace(value, str(mask_value(field, value)))
    return text
