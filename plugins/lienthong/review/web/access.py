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
    """A signed-in Airflow user, and what they may see and do in the review."""

    user: BaseUser
    token: str | None
    _can: dict[tuple[str, str], bool] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.user.get_name() or str(self.user.get_id())

    def _allowed(self, reviewed: ReviewedDataset, method: str) -> bool:
        key = (reviewed.name, method)
        if key not in self._can:
            entity = DagAccessEntity.RUN if method == "GET" else DagAccessEntity.HITL_DETAIL
            self._can[key] = get_auth_manager().is_authorized_dag(
                method=method,
                access_entity=entity,
                details=DagDetails(id=reviewed.dag_id, team_name=_team_of(reviewed.dag_id)),
                user=self.user,
            )
        return self._can[key]

    def can_view(self, reviewed: ReviewedDataset) -> bool:
        """May see this dataset's batches."""
        return self._allowed(reviewed, "GET")

    def can_act(self, reviewed: ReviewedDataset) -> bool:
        """May decide on this dataset's quarantined rows and held batches."""
        return self._allowed(reviewed, "PUT")

    def viewable(self) -> list[ReviewedDataset]:
        """The datasets this user may see."""
        return [r for r in datasets.reviewed().values() if self.can_view(r)]

    def require_view(self, reviewed: ReviewedDataset) -> None:
        if not self.can_view(reviewed):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"you may not see {reviewed.name}")

    def require_act(self, reviewed: ReviewedDataset) -> None:
        if not self.can_act(reviewed):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"you may not decide on {reviewed.name} data: it takes the permission to answer "
                f"the Required Actions of the {reviewed.dag_id} DAG",
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
