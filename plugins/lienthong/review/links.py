"""Where the review view lives, for links from tasks, notifications and Airflow's UI."""

from __future__ import annotations

#: The path under Airflow's api-server where the review app is mounted.
URL_PREFIX = "/lienthong"

#: The view's route in Airflow's UI (``/plugin/<route>``): Airflow shows the app's pages there,
#: inside its own navigation, and ``/plugin/<route><page path>`` opens one page directly.
UI_ROUTE = "data-quality"


def batch_url(batch_no: int, base_url: str) -> str:
    """The review page of a batch in Airflow's UI, under Airflow's ``[api] base_url``."""
    return f"{base_url.rstrip('/')}/plugin/{UI_ROUTE}{URL_PREFIX}/batches/{int(batch_no)}"
