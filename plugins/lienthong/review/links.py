"""Where the review view lives, for links from tasks, notifications and Airflow's UI."""

from __future__ import annotations

#: The path under Airflow's api-server where the review app is mounted.
URL_PREFIX = "/lienthong"


def batch_url(batch_no: int, base_url: str) -> str:
    """The review page of a batch, under Airflow's ``[api] base_url``."""
    return f"{base_url.rstrip('/')}{URL_PREFIX}/batches/{int(batch_no)}"
