"""A secrets backend that fails for one connection, as a backend having a hiccup does."""

from __future__ import annotations

from airflow.secrets import BaseSecretsBackend


class FailingSecretsBackend(BaseSecretsBackend):
    """Raises for the connection ``warehouse``; knows nothing of any other."""

    def get_conn_value(self, conn_id: str) -> str | None:
        if conn_id == "warehouse":
            raise ConnectionError("secrets backend unreachable")
        return None
