"""The sources file read entry by entry: what a deployment's file may hold, and the errors
that name the file, the entry and the field."""

from __future__ import annotations

import pytest

from lienthong.sources import SourcesFileError, load_sources


def test_a_file_not_in_utf8_names_the_file_and_the_line(tmp_path):
    sources = tmp_path / "sources.yaml"
    # Windows-1258, as a Vietnamese editor may save it: "Báo cáo" in a comment on line 3.
    sources.write_bytes(b"sources:\n  - dataset: population\n    conn_id: api  # B\xe1o c\xe1o\n")
    with pytest.raises(SourcesFileError, match=r"sources\.yaml: line 3: not UTF-8 \(byte 0xe1\)"):
        load_sources(sources)


def test_a_utf8_file_with_a_byte_order_mark_is_read(tmp_path):
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n  - dataset: population\n    conn_id: api  # Báo cáo\n", "utf-8-sig"
    )
    assert [s.key for s in load_sources(sources).sources] == ["population"]


@pytest.mark.parametrize("schedule", ["0 0 31 2 *", "0 0 30 2 *", "0 6 1 1 * 0 2020"])
def test_a_schedule_that_never_fires_is_an_error_of_its_entry(tmp_path, schedule):
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n"
        "  - dataset: population\n    conn_id: api\n"
        f"  - dataset: civil_events\n    province: '01'\n    conn_id: r\n    schedule: '{schedule}'\n"
    )
    read = load_sources(sources)
    assert [s.key for s in read.sources] == ["population"]
    assert read.errors == (
        f"{sources}: entry 2 (civil_events_01): schedule: '{schedule}' never fires "
        "(no such date from now on)",
    )


@pytest.mark.parametrize("schedule", ["0 0 29 2 *", "*/30 * * * *", "@daily", "0 0 L * *"])
def test_a_schedule_that_fires_is_kept(tmp_path, schedule):
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"sources:\n  - dataset: population\n    conn_id: api\n    schedule: '{schedule}'\n"
    )
    read = load_sources(sources)
    assert read.errors == ()
    assert read.sources[0].effective_schedule == schedule


@pytest.mark.parametrize(
    ("field", "yaml_value"),
    [
        ("page_size", "yes"),
        ("thresholds", "{live: no}"),
        ("thresholds", "{correct: 0.9, clean: on}"),
    ],
)
def test_a_yaml_boolean_is_not_taken_for_a_number(tmp_path, field, yaml_value):
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"sources:\n  - dataset: population\n    conn_id: api\n    {field}: {yaml_value}\n"
    )
    read = load_sources(sources)
    assert read.sources == ()
    ((error,),) = [read.errors]
    assert error.startswith(f"{sources}: entry 1 (population): {field}: ")
    assert "a boolean (YAML's yes/no/on/off) is not a number" in error


def test_a_commit_lag_of_yes_is_not_one_second(tmp_path):
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n  - dataset: civil_events\n    province: '01'\n    conn_id: r\n"
        "    commit_lag_seconds: yes\n"
    )
    (error,) = load_sources(sources).errors
    assert "entry 1 (civil_events_01): commit_lag_seconds: True: a boolean" in error
