"""Airflow plugin: the "Data quality" view, where operators review data that failed validation.

The view is a FastAPI app (``lienthong.review.web``) that Airflow's api-server serves under
``/lienthong``, shown in Airflow's navigation as an external view (an embedded page, so
Airflow's menu, sign-in and colour mode stay around it), and on each DAG run's page as the
run's batch. Its routes check Airflow's sign-in and permissions themselves
(``lienthong.review.web.access``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from lienthong.review.links import UI_ROUTE, URL_PREFIX


def _app():
    from lienthong.review.web.app import create_app

    return create_app()


class LienthongReviewPlugin(AirflowPlugin):
    name = "lienthong_review"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": _app(), "url_prefix": URL_PREFIX, "name": "Data quality"}
    ]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "Data quality",
            # Relative: Airflow's UI resolves it against its base URL (a deployment under a path).
            "href": f"{URL_PREFIX.lstrip('/')}/",
            "url_route": UI_ROUTE,
            "destination": "nav",
            "nav_top_level": True,
            "icon": f"{URL_PREFIX.lstrip('/')}/static/icon.svg",
            "icon_dark_mode": f"{URL_PREFIX.lstrip('/')}/static/icon-dark.svg",
        },
        {
            "name": "Data quality",
            "href": f"{URL_PREFIX.lstrip('/')}/runs/{{DAG_ID}}/{{RUN_ID}}",
            "url_route": f"{UI_ROUTE}-run",
            "destination": "dag_run",
        },
    ]
