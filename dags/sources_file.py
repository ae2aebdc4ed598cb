"""
### The sources file's errors, as this file's import error

`dags/sources.py` makes one DAG per valid entry of the sources file and leaves invalid ones
out, so that one bad entry never hides the others. This file makes the invalid ones visible
in Airflow: it raises, and Airflow shows the message (every invalid entry, each naming its
entry and field) as the import error of `sources_file.py`. It defines no DAG.
"""

from __future__ import annotations

from lienthong.sources import SourcesFileError, load_sources

_sources = load_sources()
if _sources.errors:
    raise SourcesFileError(
        f"{len(_sources.errors)} invalid entr{'y' if len(_sources.errors) == 1 else 'ies'} "
        f"in the sources file (the other entries' DAGs are loaded):\n" + "\n".join(_sources.errors)
    )
