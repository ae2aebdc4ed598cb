"""GX's Data Docs page views, their Jinja templates compiled once per machine.

GX builds a new Jinja environment for each view of each Data Docs build, so every batch's
validation parsed and compiled GX's fifty-odd templates again: about a third of a second of
a small batch's validation (an incremental population sync of 3,000 rows validated in 1.9 s
with it, 1.55 s without). These views are GX's own, given Jinja's on-disk bytecode cache: a
template is compiled once and loaded as bytecode afterwards, by every process (each Airflow
task is one). Jinja keys a compiled template by its name and checks it against the source's
checksum, so a GX upgrade compiles its changed templates again; a cache that cannot be read or
written only costs the compilation.

`lienthong.pipeline.data_docs` names these classes in the site's configuration (GX's own
extension point for views): this module, which imports GX, is loaded only when a site is built.
"""

from __future__ import annotations

import contextlib
import pickle
from typing import Any

from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import FileSystemBytecodeCache
from jinja2.bccache import Bucket

from lienthong.settings import state_dir


class _TemplatesCache(FileSystemBytecodeCache):
    """Jinja's on-disk bytecode cache, where a file that cannot be read or written is simply
    compiled again (Jinja's own raises, and the page would not be built)."""

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, pickle.UnpicklingError):
            # Unreadable, or cut short after its header (Jinja reads the rest itself, and
            # compiles again when its bytecode is not what it wrote).
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def templates_cache() -> FileSystemBytecodeCache | None:
    """Jinja's bytecode cache for GX's templates, in lienthong's state folder (not under the
    Data Docs folder the review serves); None when that folder cannot be made. What is
    cached is code the tasks run: the folder is made for its owner alone."""
    folder = state_dir() / "cache" / "data_docs_templates"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return _TemplatesCache(str(folder))


class _CompiledOnce:
    """A GX view whose Jinja environment keeps its compiled templates (`templates_cache`)."""

    env: Any

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = templates_cache()


class PageView(_CompiledOnce, DefaultJinjaPageView):
    """GX's page view (a suite's, a validation's), its templates compiled once."""


class IndexPageView(_CompiledOnce, DefaultJinjaIndexPageView):
    """GX's index page view, its templates compiled once."""
