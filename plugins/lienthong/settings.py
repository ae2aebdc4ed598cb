"""Where lienthong keeps its files, and the defaults a deployment may override.

Every setting reads the environment first, so a deployment configures lienthong
without editing code; the defaults run anywhere (project-local folders).
"""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root: ``plugins/lienthong/settings.py`` → two levels up from the package.
PROJECT_ROOT = Path(__file__).resolve().parents[2]

#: Versioned warehouse migrations.
MIGRATIONS_DIR = PROJECT_ROOT / "sql" / "migrations"

#: Great Expectations suites, one folder per dataset.
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"


def state_dir() -> Path:
    """Project-local folder for runtime state (embedded PostgreSQL data, demo files)."""
    return Path(os.environ.get("LIENTHONG_HOME", PROJECT_ROOT / ".lienthong")).resolve()


#: Airflow connection ids.
WAREHOUSE_CONN_ID = "warehouse"
MINISTRY_CONN_ID = "ministry_population"
