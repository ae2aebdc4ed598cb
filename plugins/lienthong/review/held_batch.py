"""A held batch waits for a person inside Airflow: a Required Action on its DAG run.

``HeldBatchApproval`` is the DAG's task after validation. When the batch is not held it
lets the run go on to publish. When it is held, it records its Required Action in
``audit.batch_reviews`` (so that the review view can answer it too), notifies the webhook
once per batch, and waits (Airflow's human-in-the-loop approval): approving publishes the
batch as it stands, rejecting marks it rejected and skips publishing. Either answer is
recorded as the operator's decision, with the user who answered and the reason they gave.
A batch decided in the review view before its Required Action exists is not asked again.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Param
from psycopg.rows import dict_row

from lienthong.review.decisions import (
    AlreadyDecided,
    Decision,
    approve_batch,
    batch_decision,
    reject_batch,
)
from lienthong.review.links import batch_url
from lienthong.review.notifier import WEBHOOK_CONN_ID, WebhookNotifier, webhook_configured

log = logging.getLogger(__name__)

APPROVE = ApprovalOperator.APPROVE
REJECT = ApprovalOperator.REJECT
#: What the Required Action's form asks for besides the answer.
REASON_PARAM = "reason"
#: The DAG run's conf key that, set to false, fails a held batch's run instead of waiting in a
#: Required Action (for ``airflow dags test``, where nobody can answer).
WAIT_PARAM = "required_action"


def hold_causes(conn: psycopg.Connection, batch_no: int) -> list[dict[str, Any]]:
    """Why a batch is held: each failed batch-level rule, and each dimension under its
    threshold with the rule that caught most of its rows."""
    with conn.cursor(row_factory=dict_row) as cur:
        causes = cur.execute(
            """SELECT rule_id AS rule, dimension,
                      description || coalesce(' (observed ' || observed_value || ')', '') AS reason
               FROM audit.rule_results
               WHERE batch_no = %s AND level = 'batch' AND NOT success
               ORDER BY expectation_no""",
            (batch_no,),
        ).fetchall()
        causes += cur.execute(
            """SELECT (SELECT f.rule_id FROM audit.findings f
                       WHERE f.batch_no = d.batch_no AND f.dimension = d.dimension
                         AND f.action = 'quarantine'
                       GROUP BY f.rule_id ORDER BY count(*) DESC, f.rule_id LIMIT 1) AS rule,
                      d.dimension,
                      format('pass rate %%s%%%% is below the threshold of %%s%%%%',
                             round(d.pass_rate * 100, 2), round(d.threshold * 100)) AS reason
               FROM audit.dimension_scores d
               WHERE d.batch_no = %s AND d.pass_rate < d.threshold
               ORDER BY array_position(ARRAY['correct', 'sufficient', 'clean', 'live'], d.dimension)""",
            (batch_no,),
        ).fetchall()
    return causes


def batch_province(conn: psycopg.Connection, batch_no: int) -> str | None:
    """The province of a batch whose rows all lie in one; None for a national batch."""
    from psycopg import sql

    from lienthong.pipeline.staging import qualified
    from lienthong.review import datasets

    dataset, province = conn.execute(
        "SELECT dataset, to_jsonb(b) ->> 'province' FROM audit.batches b WHERE batch_no = %s",
        (batch_no,),
    ).fetchone()
    if province:  # a provincial source's batch
        return province
    reviewed = datasets.get(dataset)
    if not reviewed.province_column:
        return None
    count, province = conn.execute(
        sql.SQL("SELECT count(DISTINCT {c}), min({c}) FROM {t} WHERE batch_no = %s").format(
            c=sql.Identifier(reviewed.province_column),
            t=qualified(reviewed.dataset.staging_table),
        ),
        (batch_no,),
    ).fetchone()
    return province if count == 1 else None


def held_message(
    conn: psycopg.Connection, batch_no: int, *, dag_id: str, run_id: str, base_url: str | None
) -> dict[str, Any]:
    """The webhook message for a held batch: dataset, province, batch, dimension and rule."""
    dataset = conn.execute(
        "SELECT dataset FROM audit.batches WHERE batch_no = %s", (batch_no,)
    ).fetchone()[0]
    causes = hold_causes(conn, batch_no)
    province = batch_province(conn, batch_no)
    first = causes[0] if causes else {"rule": None, "dimension": None, "reason": "held"}
    where = f"province {province}" if province else "all provinces"
    text = (
        f"{dataset} batch {batch_no} ({where}) is on hold: "
        + "; ".join(f"rule {c['rule']} ({c['dimension']}): {c['reason']}" for c in causes)
        + ". It waits for a decision in Airflow (Required Actions, or Data quality)."
    )
    return {
        "event": "batch_held",
        "dataset": dataset,
        "province": province,
        "batch_no": batch_no,
        "dimension": first["dimension"],
        "rule": first["rule"],
        "holds": causes,
        "dag_id": dag_id,
        "run_id": run_id,
        "review_url": batch_url(batch_no, base_url) if base_url else None,
        "text": text,
    }


def request_review(
    conn: psycopg.Connection,
    batch_no: int,
    *,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int = -1,
) -> bool:
    """Record the Required Action of a held batch; True when its holders were not yet told."""
    with conn.transaction():
        notified_at = conn.execute(
            """INSERT INTO audit.batch_reviews (batch_no, dag_id, run_id, task_id, map_index)
               VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (batch_no) DO UPDATE SET dag_id = EXCLUDED.dag_id,
                   run_id = EXCLUDED.run_id, task_id = EXCLUDED.task_id,
                   map_index = EXCLUDED.map_index, requested_at = now()
               RETURNING notified_at""",
            (batch_no, dag_id, run_id, task_id, map_index),
        ).fetchone()[0]
    return notified_at is None


def mark_notified(conn: psycopg.Connection, batch_no: int) -> None:
    """Remember that a held batch's holders were told."""
    with conn.transaction():
        conn.execute(
            "UPDATE audit.batch_reviews SET notified_at = now() WHERE batch_no = %s", (batch_no,)
        )


def decide_held_batch(
    conn: psycopg.Connection, batch_no: int, *, approve: bool, user: str, reason: str, via: str
) -> Decision:
    """Approve or reject a held batch; the same decision already taken is returned as it is.

    Raises:
        AlreadyDecided: the batch was decided the other way.
    """
    wanted = "approve_batch" if approve else "reject_batch"
    earlier = batch_decision(conn, batch_no)
    if earlier is None:
        decide = approve_batch if approve else reject_batch
        try:
            return decide(conn, batch_no, user=user, reason=reason, via=via)
        except AlreadyDecided:
            earlier = batch_decision(conn, batch_no)
            if earlier is None:
                raise
    if earlier.action != wanted:
        raise AlreadyDecided(
            f"batch {batch_no} was decided before: {earlier.action} by {earlier.decided_by} "
            f"at {earlier.decided_at:%Y-%m-%d %H:%M:%S %Z} (via {earlier.via}); "
            f"the answer {'Approve' if approve else 'Reject'} was not applied"
        )
    return earlier


class HeldBatchApproval(ApprovalOperator):
    """The Required Action of a held batch (a human-in-the-loop approval), if it is held.

    Args:
        dataset: the dataset the DAG loads.
        batch_no: the batch (templated: an XComArg of the validating task).
        webhook_conn_id: the Airflow connection of the webhook told when a batch is held.
    """

    template_fields = (*ApprovalOperator.template_fields, "batch_no")

    def __init__(
        self,
        *,
        dataset: str,
        batch_no: Any,
        webhook_conn_id: str = WEBHOOK_CONN_ID,
        params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # A default is needed for the task to start (params are validated then); an answer
        # given without a reason is recorded as such.
        reason = Param(
            "",
            type="string",
            title="Reason",
            description="Why you approve or reject this batch (kept in the audit log).",
        )
        super().__init__(
            subject=f"A {dataset} batch is on hold",
            body=None,
            # The DAG's params (passed in by Airflow) are no question for the person deciding.
            params={REASON_PARAM: reason},
            **kwargs,
        )
        self.dataset = dataset
        self.batch_no = batch_no
        self.webhook_conn_id = webhook_conn_id

    def execute(self, context: Any) -> Any:
        from airflow.providers.common.compat.sdk import conf
        from airflow.sdk.exceptions import AirflowSkipException

        from lienthong.pipeline import batches
        from lienthong.warehouse.connection import connect

        batch_no = int(self.batch_no)
        ti = context["ti"]
        base_url = conf.get("api", "base_url", fallback=None)
        with connect() as conn:
            batch = batches.get(conn, batch_no=batch_no)
            if batch["status"] != "held":
                decision = batch_decision(conn, batch_no)
                if batch["status"] == "rejected":
                    who = f" by {decision.decided_by} ({decision.reason})" if decision else ""
                    raise AirflowSkipException(f"{self.dataset} batch {batch_no} was rejected{who}")
                self.log.info(
                    "%s batch %s is %s: no review needed", self.dataset, batch_no, batch["status"]
                )
                return None
            causes = hold_causes(conn, batch_no)
            if (getattr(context.get("dag_run"), "conf", None) or {}).get(WAIT_PARAM) is False:
                # No one to answer here (``airflow dags test`` without an api-server): the run
                # fails, the batch stays held, and is decided in the Data quality view.
                from airflow.sdk.exceptions import AirflowFailException

                message = held_message(
                    conn, batch_no, dag_id=ti.dag_id, run_id=ti.run_id, base_url=base_url
                )
                self._notify(context, message)
                raise AirflowFailException(message["text"])
            self.subject = f"{self.dataset} batch {batch_no} is on hold"
            lines = [f"- rule **{c['rule']}** ({c['dimension']}): {c['reason']}" for c in causes]
            link = (
                f"\n\n[Review batch {batch_no} in Data quality]({batch_url(batch_no, base_url)})"
                if base_url
                else ""
            )
            self.body = (
                f"Nothing of {self.dataset} batch {batch_no} is published until someone decides.\n\n"
                + "\n".join(lines)
                + "\n\n**Approve** publishes the batch as it stands (its failing rows stay in"
                " quarantine); **Reject** marks it rejected: nothing of it is published." + link
            )
            first = request_review(
                conn,
                batch_no,
                dag_id=ti.dag_id,
                run_id=ti.run_id,
                task_id=ti.task_id,
                map_index=ti.map_index if ti.map_index is not None else -1,
            )
            message = held_message(
                conn, batch_no, dag_id=ti.dag_id, run_id=ti.run_id, base_url=base_url
            )
        if first and self._notify(context, message):
            with connect() as conn:
                mark_notified(conn, batch_no)
        return super().execute(context)

    def _notify(self, context: Any, message: dict[str, Any]) -> bool:
        """Tell the webhook a batch is held; False (logged) when it could not be told."""
        if not webhook_configured(self.webhook_conn_id):
            self.log.warning("no Airflow connection %s: nobody notified", self.webhook_conn_id)
            return False
        try:
            WebhookNotifier(
                event="batch_held",
                dataset=self.dataset,
                http_conn_id=self.webhook_conn_id,
                message=message,
            )(context)
        except Exception:
            # The hold is in Airflow and in the view either way; a later attempt tells again.
            self.log.exception(
                "could not notify %s of held batch %s", self.webhook_conn_id, message["batch_no"]
            )
            return False
        return True

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from lienthong.warehouse.connection import connect

        if "error" not in event:
            chosen = event["chosen_options"]
            if set(chosen) - {APPROVE, REJECT} or len(chosen) != 1:
                raise ValueError(f"unexpected answer {chosen}")
            user = event.get("responded_by_user") or {}
            reason = (event.get("params_input") or {}).get(REASON_PARAM) or ""
            with connect() as conn:
                decision = decide_held_batch(
                    conn,
                    int(self.batch_no),
                    approve=chosen[0] == APPROVE,
                    user=user.get("name") or user.get("id") or "unknown",
                    reason=reason.strip() or "(no reason given in the Required Action)",
                    via="required_action",
                )
            self.log.info(
                "%s batch %s: %s by %s (decision %s)",
                self.dataset,
                self.batch_no,
                decision.action,
                decision.decided_by,
                decision.decision_id,
            )
        return super().execute_complete(context, event)
