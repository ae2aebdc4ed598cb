"""Who is asking, and what they may do: Airflow's auth manager decides, the view only asks.

A plugin's FastAPI app is not protected by Airflow by itself: every route depends on
``reader`` (or ``actor``), which resolve the user from the request's Airflow token (the UI's
session cookie, or an ``Authorization: Bearer`` header) with Airflow's own ``get_user`` (401
without one) and then ask the auth manager:

- to see a dataset's batches: read access to the runs of the dataset's DAG;
- to decide (release, reject, approve): the permission to answer that DAG's Required
  Actions (``HITL_DETAIL``, PUT), the same permission Airflow checks for the Required
  Action itself. Whoever may see but not act sees personal IDs and names masked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Annotated

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, HTTPException, Request, status

from lienthong.review import datasets
from lienthong.review.datasets import ReviewedDataset

log = logging.getLogger(__name__)


def _team_of(dag_id: str) -> str | None:
    try:
        from airflow.models.dag import DagModel

        return DagModel.get_team_name(dag_id)
    except Exception:  # a DAG not parsed yet belongs to no team
        return None


@dataclass
class Reader:
    """A signed-in Airflow user, and what they may see and do in the review.

    A batch belongs to the DAG that loaded it (``queries.dag_of``): reading its runs lets a
    user see the batch, answering its Required Actions lets them decide on it.
    """

    user: BaseUser
    token: str | None
    _can: dict[tuple[str, str], bool] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.user.get_name() or str(self.user.get_id())

    def _allowed(self, dag_id: str, method: str) -> bool:
        key = (dag_id, method)
        if key not in self._can:
            entity = DagAccessEntity.RUN if method == "GET" else DagAccessEntity.HITL_DETAIL
            self._can[key] = get_auth_manager().is_authorized_dag(
                method=method,
                access_entity=entity,
                details=DagDetails(id=dag_id, team_name=_team_of(dag_id)),
                user=self.user,
            )
        return self._can[key]

    def can_view(self, dag_id: str) -> bool:
        """May see the batches of this DAG."""
        return self._allowed(dag_id, "GET")

    def can_act(self, dag_id: str) -> bool:
        """May decide on the quarantined rows and held batches of this DAG."""
        return self._allowed(dag_id, "PUT")

    def readable(self, dags: set[str]) -> set[str]:
        """Of these DAGs, those whose batches this user may see (asked of the auth manager DAG
        by DAG, so that a batch shows even before Airflow has parsed its DAG)."""
        return {dag for dag in dags if self.can_view(dag)}

    def datasets(self) -> list[ReviewedDataset]:
        """The datasets under review (which of their batches show is up to ``readable_dags``)."""
        return list(datasets.reviewed().values())

    def require_view(self, dag_id: str, what: str) -> None:
        if not self.can_view(dag_id):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"you may not see {what}")

    def require_act(self, dag_id: str, what: str) -> None:
        if not self.can_act(dag_id):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"you may not decide on {what}: it takes the permission to answer "
                f"the Required Actions of the {dag_id} DAG",
            )


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE_NAME_JWT_TOKEN)


async def reader(request: Request, user: Annotated[BaseUser, Depends(get_user)]) -> Reader:
    """The signed-in user (401 from Airflow's ``get_user`` without a valid token)."""
    return Reader(user=user, token=_token(request))


ReaderDep = Annotated[Reader, Depends(reader)]
