"""Answering a held batch's Required Action from the review view, through Airflow's REST API.

The view answers as the signed-in user (with their own token), so Airflow applies its own
checks (permission on the DAG, assigned users) and records who answered; Airflow refuses a
second answer (409), which is what keeps the view and the Required Action from deciding a
batch twice. The waiting task then resumes and finds the decision already recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from lienthong.review.held_batch import APPROVE, REASON_PARAM, REJECT

log = logging.getLogger(__name__)


class RequiredActionError(RuntimeError):
    """Airflow did not accept the answer; ``status`` is its HTTP status."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class RequiredAction:
    """Where a held batch's Required Action is: a task instance of a DAG run."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RequiredAction:
        return cls(row["dag_id"], row["run_id"], row["task_id"], row["map_index"])

    def path(self) -> str:
        return (
            f"/api/v2/dags/{quote(self.dag_id, safe='')}/dagRuns/{quote(self.run_id, safe='')}"
            f"/taskInstances/{quote(self.task_id, safe='')}/{self.map_index}/hitlDetails"
        )

    def ui_path(self) -> str:
        """The Required Action's page in Airflow's UI."""
        return (
            f"/dags/{quote(self.dag_id, safe='')}/runs/{quote(self.run_id, safe='')}"
            f"/tasks/{quote(self.task_id, safe='')}/required_actions"
        )


def _client(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=base_url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail"))
    except ValueError:
        return response.text[:500]


def response_of(base_url: str, token: str, action: RequiredAction) -> dict[str, Any] | None:
    """The Required Action as Airflow has it (answered or not); None if Airflow has none."""
    with _client(base_url, token) as client:
        response = client.get(action.path())
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise RequiredActionError(response.status_code, _detail(response))
    return response.json()


def answer(
    base_url: str, token: str, action: RequiredAction, *, approve: bool, reason: str
) -> dict[str, Any] | None:
    """Answer the Required Action as the token's user; None if Airflow has no such request.

    Raises:
        RequiredActionError: Airflow refused (409 answered before, 403 not allowed, ...).
    """
    with _client(base_url, token) as client:
        response = client.patch(
            action.path(),
            json={
                "chosen_options": [APPROVE if approve else REJECT],
                "params_input": {REASON_PARAM: reason},
            },
        )
    if response.status_code == 404:
        log.warning("Airflow has no Required Action %s (its run may be gone)", action)
        return None
    if response.status_code != 200:
        raise RequiredActionError(response.status_code, _detail(response))
    return response.json()
