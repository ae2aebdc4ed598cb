"""Webhook notifications (an Airflow notifier) when a batch is held or a DAG run fails.

The webhook's address comes from an Airflow HTTP connection (``lienthong_webhook`` unless
told otherwise): its host is the URL (``https://chat.example/hooks/abc``, or host, port and
schema), headers such as a token go in its extra. The message is JSON naming the dataset,
province, batch, dimension and rule, with a sentence a person can read (``text``).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseNotifier

#: The Airflow connection naming the webhook.
WEBHOOK_CONN_ID = "lienthong_webhook"

EVENTS = ("batch_held", "run_failed")


class WebhookNotifier(BaseNotifier):
    """POST a JSON message about a held batch or a failed run to a webhook.

    Args:
        event: ``batch_held`` or ``run_failed``.
        dataset: the dataset the DAG loads.
        http_conn_id: the Airflow HTTP connection naming the webhook.
        endpoint: a path appended to the connection's URL.
        message: the message, when the caller built it (the held batch's Required Action
            does); otherwise it is built from the run's context and the warehouse.
    """

    template_fields = ("endpoint",)

    def __init__(
        self,
        *,
        event: str,
        dataset: str,
        http_conn_id: str = WEBHOOK_CONN_ID,
        endpoint: str = "",
        message: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if event not in EVENTS:
            raise ValueError(f"event must be one of {EVENTS}, not {event!r}")
        self.event = event
        self.dataset = dataset
        self.http_conn_id = http_conn_id
        self.endpoint = endpoint
        self.message = message

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Render ``endpoint``; also where the context's DAG cannot make a template
        environment: `airflow dags test` runs DAG-level callbacks with the serialized DAG."""
        dag = context.get("dag")
        if dag is not None and not hasattr(dag, "get_template_env"):
            context = {**context, "dag": None}
        super().render_template_fields(context, jinja_env)

    def notify(self, context: dict[str, Any]) -> None:
        from airflow.providers.http.hooks.http import HttpHook

        if not webhook_configured(self.http_conn_id):
            self.log.warning(
                "no Airflow connection %s: %s not notified", self.http_conn_id, self.event
            )
            return
        message = self.message or run_failed_message(self.dataset, context)
        HttpHook(method="POST", http_conn_id=self.http_conn_id).run(
            self.endpoint, json=message, extra_options={"timeout": 30}
        )
        self.log.info(
            "notified %s of %s: %s batch %s",
            self.http_conn_id,
            message["event"],
            message["dataset"],
            message.get("batch_no"),
        )


def webhook_configured(conn_id: str = WEBHOOK_CONN_ID) -> bool:
    """Whether the webhook's Airflow connection is defined."""
    from airflow.sdk import BaseHook

    try:
        BaseHook.get_connection(conn_id)
    except Exception:  # not defined (AirflowNotFoundException, or no connection store here)
        return False
    return True


def run_failed_message(dataset: str, context: dict[str, Any]) -> dict[str, Any]:
    """The message for a failed DAG run, with its batch when the warehouse knows it."""
    dag_run = context.get("dag_run")
    run_id = getattr(dag_run, "run_id", None) or context.get("run_id")
    dag_id = getattr(dag_run, "dag_id", None) or getattr(context.get("dag"), "dag_id", None)
    failure = context.get("reason") or context.get("exception")
    batch = _batch_of_run(dag_id, run_id)
    text = f"{dataset}: DAG run {run_id} of {dag_id} failed"
    if batch:
        text += f" (batch {batch['batch_no']}, {batch['status']})"
    if failure:
        text += f": {failure}"
    return {
        "event": "run_failed",
        "dataset": dataset,
        "province": batch.get("province") if batch else None,
        "batch_no": batch["batch_no"] if batch else None,
        "dimension": None,
        "rule": None,
        "dag_id": dag_id,
        "run_id": run_id,
        "text": text,
    }


def _batch_of_run(dag_id: str | None, run_id: str | None) -> dict[str, Any] | None:
    """The batch a run opened (batch key ``<dag id>:<run id>``), if the warehouse answers."""
    if not run_id or not dag_id:
        return None
    try:
        from lienthong.pipeline import batches
        from lienthong.warehouse.connection import connect

        with connect() as conn:
            return batches.get(conn, batch_key=f"{dag_id}:{run_id}")
    except Exception:  # the run may have failed before opening a batch, or on the warehouse
        return None
