"""Great Expectations Data Docs, built for each validation of a batch and kept as files.

Validation runs the suites in an ephemeral GX context; ``build`` adds a filesystem Data
Docs site to that context and renders what it just validated (the results and the suites)
into ``<state_dir>/data_docs/<dataset>/<batch_no>/``. A validation run again (a held batch
re-validated) replaces the folder. The review view (``lienthong.review``) serves the folder
to signed-in users. Data Docs are a report: a site that cannot be rendered is logged, and
validation goes on.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from lienthong.settings import state_dir

log = logging.getLogger(__name__)

SITE_NAME = "lienthong"
# GX's own page views, their templates compiled once per machine (`data_docs_views`).
_PAGE_VIEW = {"module_name": "lienthong.pipeline.data_docs_views", "class_name": "PageView"}
_INDEX_VIEW = {"module_name": "lienthong.pipeline.data_docs_views", "class_name": "IndexPageView"}
_SAFE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def root() -> Path:
    """Where every batch's Data Docs are kept."""
    return state_dir() / "data_docs"


def static() -> Path:
    """The sites' static files (styles, fonts, images), one copy for every batch's site:
    a site's ``static/`` is served from here."""
    return root() / "_static"


def folder(dataset: str, batch_no: int) -> Path:
    """The Data Docs folder of one batch's validation."""
    if not _SAFE_NAME.match(dataset):
        raise ValueError(f"not a dataset name: {dataset!r}")
    return root() / dataset / str(int(batch_no))


def index(dataset: str, batch_no: int) -> Path | None:
    """The site's index page of a batch, or None when no Data Docs were built for it."""
    page = folder(dataset, batch_no) / "index.html"
    return page if page.is_file() else None


def validation_pages(dataset: str, batch_no: int) -> list[tuple[str, str]]:
    """A batch's validation result pages: (suite name, path in its site), by suite name.

    The site's index lists them with a script loaded from a CDN; the pages themselves are
    plain HTML, readable offline.
    """
    site = folder(dataset, batch_no)
    pages = [
        (page.relative_to(site / "validations").parts[0:2], page.relative_to(site).as_posix())
        for page in sorted((site / "validations").glob("**/*.html"))
    ]
    return sorted((".".join(suite), path) for suite, path in pages)


def build(context: Any, dataset: str, batch_no: int) -> Path | None:
    """Render the validations of ``context`` (a GX context that just ran them) as a site.

    The site is built in a temporary folder beside the target and moved into place, so a
    reader never sees half a site. Returns the site's folder, or None (logged) when it could
    not be built.
    """
    try:
        return _build(context, dataset, batch_no)
    except Exception:
        log.warning("%s batch %s: Data Docs could not be built", dataset, batch_no, exc_info=True)
        return None


def _build(context: Any, dataset: str, batch_no: int) -> Path:
    target = folder(dataset, batch_no)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{batch_no}-", dir=target.parent))
    try:
        context.add_data_docs_site(
            site_name=SITE_NAME,
            site_config={
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(staging),
                },
                "site_index_builder": {
                    "class_name": "DefaultSiteIndexBuilder",
                    "view": _INDEX_VIEW,
                },
                "site_section_builders": {
                    section: {"view": _PAGE_VIEW}
                    for section in ("expectations", "validations", "profiling")
                },
            },
        )
        context.build_data_docs(site_names=[SITE_NAME])
        # Four megabytes of fonts and images, the same for every site: kept once.
        if not static().exists():
            with contextlib.suppress(OSError):  # another process moved its copy first
                (staging / "static").rename(static())
        shutil.rmtree(staging / "static", ignore_errors=True)
        previous = target.with_name(f".{batch_no}-previous")
        shutil.rmtree(previous, ignore_errors=True)
        if target.exists():
            target.rename(previous)
        staging.rename(target)
        shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("%s batch %s: Data Docs in %s", dataset, batch_no, target)
    return target
