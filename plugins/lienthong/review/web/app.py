"""The review app: pages for people (server-rendered, styled like Airflow) and the JSON
endpoints their buttons call. Every route needs a signed-in Airflow user (``access``)."""

from __future__ import annotations

import json
import logging
import mimetypes
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import psycopg
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from lienthong.pipeline import data_docs
from lienthong.pipeline.dataset import DIMENSIONS
from lienthong.review import datasets, decisions, masking, queries
from lienthong.review.datasets import ReviewedDataset
from lienthong.review.links import URL_PREFIX
from lienthong.review.web.access import Reader, ReaderDep
from lienthong.review.web.chart import COLOURS, LABELS, WORDS, trend_svg

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 25
#: The last page a list may be asked for: further, its offset would overflow the warehouse's
#: bigint (a 500); no list of the review is anywhere near that long.
MAX_PAGE = 10**9


def _warehouse() -> Iterator[psycopg.Connection]:
    from lienthong.warehouse.connection import connect

    with connect() as conn:
        yield conn


WarehouseDep = Annotated[psycopg.Connection, Depends(_warehouse)]


# Filters -------------------------------------------------------------------------------


def _pct(value: Any, digits: int = 2) -> str:
    return "" if value is None else f"{float(value):.{digits}%}"


def _utc(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _flatten(payload: Any) -> list[tuple[str, Any]]:
    """A payload's fields as (path, value), objects one level deep (``object.field``), in
    name order (the warehouse keeps JSON objects in an order of its own)."""
    if not isinstance(payload, dict):
        return [("(payload)", payload)]
    fields: list[tuple[str, Any]] = []
    for key, value in sorted(payload.items()):
        if isinstance(value, dict) and value:
            fields += [(f"{key}.{k}", v) for k, v in sorted(value.items())]
        else:
            fields.append((key, value))
    return fields


def _shown(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters.update(pct=_pct, utc=_utc, flatten=_flatten, shown=_shown)
templates.env.globals.update(
    DIMENSIONS=DIMENSIONS,
    COLOURS=COLOURS,
    LABELS=LABELS,
    WORDS=WORDS,
    STATUS_FILTERS=queries.STATUS_FILTERS,
    URL_PREFIX=URL_PREFIX,
)


def _page(request: Request, name: str, reader: Reader, **context: Any) -> HTMLResponse:
    def query(**changes: Any) -> str:
        """This page's query string with some parameters changed (pagers keep the filters)."""
        return urlencode({**request.query_params, **changes})

    return templates.TemplateResponse(
        request,
        name,
        {
            "reader": reader,
            "prefix": _prefix(request),
            "airflow_root": _prefix(request).removesuffix(URL_PREFIX),
            "query": query,
            **context,
        },
    )


def _prefix(request: Request) -> str:
    """Where this app is mounted, as the browser sees it (Airflow's root path included)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _text(value: str | None) -> str | None:
    """A form value: blank means not given."""
    return value.strip() or None if value else None


def _no_nul(request: Request) -> None:
    """Refuse a path or query parameter the warehouse cannot take as text (a NUL character:
    PostgreSQL refuses it, and a file path cannot hold one), naming it, rather than a 500."""
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if isinstance(value, str) and "\x00" in value:
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST, f"{name}: contains a NUL character (U+0000)"
            )


def _day(value: str | None, name: str) -> date | None:
    try:
        return date.fromisoformat(value) if _text(value) else None
    except ValueError:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"{name}: not a date (YYYY-MM-DD)"
        ) from None


def _reviewed_batch(
    conn: psycopg.Connection, batch_no: int, reader: Reader
) -> tuple[dict, ReviewedDataset]:
    found = queries.batch(conn, batch_no)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no batch {batch_no}")
    try:
        reviewed = datasets.get(found["dataset"])
    except datasets.UnknownDataset:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"batch {batch_no} is not under review"
        ) from None
    found["dag_id"] = queries.dag_of(found, reviewed)
    reader.require_view(found["dag_id"], f"batch {batch_no}")
    return found, reviewed


def _dataset(name: str) -> ReviewedDataset:
    try:
        return datasets.get(name)
    except datasets.UnknownDataset:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no dataset {name!r} under review"
        ) from None


# Masking -------------------------------------------------------------------------------


def _mask_rows(rows: list[dict[str, Any]], reviewed: ReviewedDataset) -> None:
    personal = reviewed.personal_fields
    key_is_personal = reviewed.dataset.key_column in personal
    for row in rows:
        secrets = [
            (f, v)
            for f, v in _flatten(row["payload"])
            if f.split(".")[-1] in personal or f in personal
        ]
        secrets += [
            (c, v)
            for finding in row["findings"]
            for c, v in finding["values"].items()
            if c in personal
        ]
        if key_is_personal:
            secrets.append((reviewed.dataset.key_column, row["record_key"]))
            row["record_key"] = masking.mask_value(reviewed.dataset.key_column, row["record_key"])
        row["payload"] = (
            masking.mask_mapping(row["payload"], personal)
            if isinstance(row["payload"], dict)
            else row["payload"]
        )
        for finding in row["findings"]:
            finding["values"] = {
                c: masking.mask_value(c, v) if c in personal else v
                for c, v in finding["values"].items()
            }
            finding["reason"] = masking.mask_text(finding["reason"], secrets)


def _mask_fixes(rows: list[dict[str, Any]], reviewed: ReviewedDataset) -> None:
    for row in rows:
        if (
            row["field"] in reviewed.personal_fields
            or row["field"].split(".")[-1] in reviewed.personal_fields
        ):
            row["original"] = masking.mask_value(row["field"], row["original"])
            row["fixed"] = masking.mask_value(row["field"], row["fixed"])


def _mask_decisions(rows: list[dict[str, Any]], reviewed: ReviewedDataset) -> None:
    for row in rows:
        row["corrections"] = {
            n: {
                f: masking.mask_value(f, v) if f.split(".")[-1] in reviewed.personal_fields else v
                for f, v in fields.items()
            }
            for n, fields in row["corrections"].items()
        }


# Airflow's own API, for the Required Action ----------------------------------------------


def _airflow_base_url(request: Request) -> str:
    """Airflow's api-server, as this request reached it (``[api] base_url`` when set)."""
    from airflow.configuration import conf

    configured = conf.get("api", "base_url", fallback=None)
    if configured:
        return configured
    return f"{request.url.scheme}://{request.url.netloc}/"


# Bodies ---------------------------------------------------------------------------------


class _Reasoned(BaseModel):
    reason: str = Field(description="why; kept in the audit log")

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a decision needs a reason")
        # Checked before anything is done (a held batch's Required Action is answered in
        # Airflow before the decision is recorded).
        return _storable(value.strip(), "the reason")


def _storable(value: str, what: str) -> str:
    """Text the warehouse can keep (``decisions.check_text``), as a validation error."""
    try:
        return decisions.check_text(value, what)
    except decisions.DecisionError as error:
        raise ValueError(str(error)) from None


class RowsChoice(_Reasoned):
    """Which quarantined rows: by number, all of a rule (its rows still held), or both."""

    row_nos: list[int] | None = None
    rule_id: str | None = None

    @field_validator("rule_id")
    @classmethod
    def _storable_rule(cls, value: str | None) -> str | None:
        return None if value is None else _storable(value, "the rule")


class ReleaseBody(RowsChoice):
    #: per row number, {payload field: corrected value}
    corrections: dict[int, dict[str, str | None]] = Field(default_factory=dict)

    @field_validator("corrections")
    @classmethod
    def _storable_corrections(
        cls, value: dict[int, dict[str, str | None]]
    ) -> dict[int, dict[str, str | None]]:
        for row_no, fields in value.items():
            for field, corrected in fields.items():
                _storable(field, f"row {row_no}: the corrected field")
                if corrected is not None:
                    _storable(corrected, f"row {row_no}: the corrected value of {field!r}")
        return value


class BatchDecisionBody(_Reasoned):
    pass


def _decision_json(decision: decisions.Decision) -> dict[str, Any]:
    return {
        "decision_id": decision.decision_id,
        "decided_at": decision.decided_at.isoformat(),
        "decided_by": decision.decided_by,
        "action": decision.action,
        "dataset": decision.dataset,
        "batch_no": decision.batch_no,
        "rule_id": decision.rule_id,
        "row_nos": decision.row_nos,
        "reason": decision.reason,
        "via": decision.via,
        "release_batch_no": decision.release_batch_no,
    }


def _refused(error: decisions.DecisionError) -> HTTPException:
    if isinstance(error, decisions.AlreadyDecided):
        return HTTPException(status.HTTP_409_CONFLICT, str(error))
    return HTTPException(status.HTTP_400_BAD_REQUEST, str(error))


# The app ----------------------------------------------------------------------------------


def create_app() -> FastAPI:
    """The review app, as Airflow mounts it under ``URL_PREFIX``."""
    app = FastAPI(
        title="lienthong: Data quality",
        description="Operators' review of quarantined rows and held batches.",
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(_no_nul)],
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Response:
        # FastAPI's own handler echoes the input back as UTF-8: a lone surrogate in it (JSON's
        # "\ud800", refused by the bodies' validators) cannot be encoded, and the 422 became a
        # 500. Escaped as JSON allows, it can.
        return Response(
            json.dumps({"detail": jsonable_encoder(error.errors())}, ensure_ascii=True),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            media_type="application/json",
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        wants_html = "text/html" in request.headers.get(
            "accept", ""
        ) and not request.url.path.startswith(f"{request.scope.get('root_path', '')}/api/")
        if not wants_html:
            return JSONResponse(
                {"detail": error.detail}, status_code=error.status_code, headers=error.headers
            )
        login = None
        if error.status_code == status.HTTP_401_UNAUTHORIZED:
            from airflow.api_fastapi.app import get_auth_manager

            login = get_auth_manager().get_url_login(next_url=str(request.url))
        return templates.TemplateResponse(
            request,
            "error.html",
            {
                "status": error.status_code,
                "detail": error.detail,
                "login": login,
                "reader": None,
                "prefix": _prefix(request),
            },
            status_code=error.status_code,
        )

    # Pages ---------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, name="batches")
    def batches_page(
        request: Request,
        reader: ReaderDep,
        conn: WarehouseDep,
        dataset: str | None = None,
        province: str | None = None,
        status_: Annotated[str | None, Query(alias="status")] = None,
        since: str | None = None,
        until: str | None = None,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    ) -> HTMLResponse:
        viewable = reader.datasets()
        dataset, province, status_ = _text(dataset), _text(province), _text(status_)
        found = queries.list_batches(
            conn,
            viewable,
            dags=reader.readable(queries.batch_dags(conn, viewable)),
            dataset=dataset,
            province=province,
            status=status_,
            since=_day(since, "since"),
            until=_day(until, "until"),
            page=page,
            page_size=PAGE_SIZE,
        )
        return _page(
            request,
            "batches.html",
            reader,
            batches=found,
            viewable=viewable,
            provinces=queries.provinces(conn),
            filters={
                "dataset": dataset,
                "province": province,
                "status": status_,
                "since": _text(since),
                "until": _text(until),
            },
        )

    @app.get("/batches/{batch_no}", response_class=HTMLResponse, name="batch")
    def batch_page(
        request: Request,
        batch_no: int,
        reader: ReaderDep,
        conn: WarehouseDep,
        rule: str | None = None,
        row_status: str | None = None,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
        fixes_page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    ) -> HTMLResponse:
        found, reviewed = _reviewed_batch(conn, batch_no, reader)
        rule, row_status = _text(rule), _text(row_status)
        rows = queries.quarantined_rows(
            conn,
            reviewed,
            batch_no,
            rule_id=rule,
            status=row_status,
            page=page,
            page_size=PAGE_SIZE,
            pending=found["status"] != "published",
        )
        fixes = queries.fixes(conn, batch_no, page=fixes_page, page_size=PAGE_SIZE)
        recorded = queries.decisions(conn, batch_no)
        can_act = reader.can_act(found["dag_id"])
        if not can_act:
            _mask_rows(rows.items, reviewed)
            _mask_fixes(fixes.items, reviewed)
            _mask_decisions(recorded, reviewed)
        answered = None
        action = found["required_action"]
        if action and found["status"] == "held" and reader.token:
            from lienthong.review.required_action import (
                RequiredAction,
                RequiredActionError,
                response_of,
            )

            try:
                detail = response_of(
                    _airflow_base_url(request), reader.token, RequiredAction.from_row(action)
                )
            except (RequiredActionError, OSError) as error:
                log.warning("could not read the Required Action of batch %s: %s", batch_no, error)
                detail = None
            if detail and detail.get("response_received"):
                answered = detail
        if action:
            from lienthong.review.required_action import RequiredAction

            found["required_action_path"] = RequiredAction.from_row(action).ui_path()
        return _page(
            request,
            "batch.html",
            reader,
            batch=found,
            reviewed=reviewed,
            can_act=can_act,
            rules=queries.rules(conn, batch_no),
            rows=rows,
            fixes=fixes,
            decisions=recorded,
            answered=answered,
            rule_filter=rule,
            row_status=row_status,
            data_docs=data_docs.index(reviewed.name, batch_no) is not None,
            validation_pages=data_docs.validation_pages(reviewed.name, batch_no),
            rule_fields=queries.rule_fields(reviewed.name),
        )

    @app.get("/trend", response_class=HTMLResponse, name="trend")
    def trend_page(
        request: Request,
        reader: ReaderDep,
        conn: WarehouseDep,
        dataset: str | None = None,
        province: str | None = None,
    ) -> HTMLResponse:
        viewable = reader.datasets()
        reviewed = _dataset(_text(dataset) or viewable[0].name)
        province = _text(province)
        points = queries.trend(
            conn,
            reviewed,
            dags=reader.readable(queries.batch_dags(conn, [reviewed])),
            province=province,
        )
        threshold = (
            min(reviewed.dataset.thresholds.values()) if reviewed.dataset.thresholds else None
        )
        return _page(
            request,
            "trend.html",
            reader,
            viewable=viewable,
            reviewed=reviewed,
            province=province,
            provinces=queries.provinces(conn),
            points=points,
            chart=trend_svg(points, threshold),
        )

    @app.get("/data-docs/{dataset}/{batch_no}/{path:path}", name="data_docs")
    def data_docs_file(
        request: Request,
        dataset: str,
        batch_no: int,
        path: str,
        reader: ReaderDep,
        conn: WarehouseDep,
    ) -> Response:
        found, _ = _reviewed_batch(conn, batch_no, reader)
        if found["dataset"] != dataset:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"batch {batch_no} is not {dataset}")
        if not path:
            path = "index.html"
        base = (
            data_docs.static()
            if path.startswith("static/")
            else data_docs.folder(dataset, batch_no)
        )
        relative = path.removeprefix("static/") if path.startswith("static/") else path
        target = (base / relative).resolve()
        if not target.is_relative_to(base.resolve()) or not target.is_file():
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"no Data Docs page {path} for batch {batch_no}"
            )
        if target.suffix == ".html":
            # GX styles its pages with Bootstrap from a CDN; a stylesheet of our own keeps them
            # readable where the CDN is out of reach (and in Airflow's colours where it is not).
            page = target.read_text(encoding="utf-8").replace(
                "</head>",
                f'<link rel="stylesheet" href="{_prefix(request)}/static/data-docs.css"></head>',
                1,
            )
            return HTMLResponse(page)
        media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return FileResponse(target, media_type=media_type)

    @app.get("/runs/{dag_id}/{run_id}", name="run")
    def run_page(
        request: Request, dag_id: str, run_id: str, reader: ReaderDep, conn: WarehouseDep
    ) -> Response:
        """The batch of a DAG run (for the view shown on a DAG run's page)."""
        reader.require_view(dag_id, f"the runs of {dag_id}")
        # A run's batch is keyed by the DAG (its source) and the run.
        row = conn.execute(
            "SELECT batch_no FROM audit.batches WHERE batch_key = %s", (f"{dag_id}:{run_id}",)
        ).fetchone()
        if row:
            from fastapi.responses import RedirectResponse

            return RedirectResponse(f"{_prefix(request)}/batches/{row[0]}")
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"run {run_id} of {dag_id} opened no batch under review"
        )

    # JSON ----------------------------------------------------------------------------

    @app.get("/api/batches", name="api_batches")
    def api_batches(
        reader: ReaderDep,
        conn: WarehouseDep,
        dataset: str | None = None,
        province: str | None = None,
        status_: Annotated[str | None, Query(alias="status")] = None,
        since: date | None = None,
        until: date | None = None,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    ) -> dict[str, Any]:
        viewable = reader.datasets()
        found = queries.list_batches(
            conn,
            viewable,
            dags=reader.readable(queries.batch_dags(conn, viewable)),
            dataset=dataset,
            province=province,
            status=status_,
            since=since,
            until=until,
            page=page,
            page_size=PAGE_SIZE,
        )
        return {
            "total": found.total,
            "page": found.page,
            "batches": [
                {
                    k: (v.isoformat() if isinstance(v, datetime) else v)
                    for k, v in b.items()
                    if k != "total_rows"
                }
                for b in found.items
            ],
        }

    @app.get("/api/batches/{batch_no}/decisions", name="api_decisions")
    def api_decisions(batch_no: int, reader: ReaderDep, conn: WarehouseDep) -> list[dict[str, Any]]:
        _reviewed_batch(conn, batch_no, reader)
        return [_decision_json(d) for d in decisions.decisions_of(conn, batch_no)]

    @app.post("/api/batches/{batch_no}/rows/release", name="api_release_rows")
    def api_release_rows(
        batch_no: int, body: ReleaseBody, reader: ReaderDep, conn: WarehouseDep
    ) -> dict[str, Any]:
        found, reviewed = _reviewed_batch(conn, batch_no, reader)
        reader.require_act(found["dag_id"], f"{reviewed.name} data")
        try:
            outcome = decisions.release_rows(
                conn,
                batch_no,
                row_nos=body.row_nos,
                rule_id=_text(body.rule_id),
                corrections=body.corrections,
                user=reader.name,
                reason=body.reason,
                via="review",
            )
        except decisions.DecisionError as error:
            raise _refused(error) from error
        return {
            "decision": _decision_json(outcome.decision),
            "release_batch_no": outcome.release_batch_no,
            "status": outcome.status,
            "published": outcome.published,
            "quarantined": {str(k): v for k, v in outcome.quarantined.items()},
            "collapsed": outcome.collapsed,
        }

    @app.post("/api/batches/{batch_no}/rows/reject", name="api_reject_rows")
    def api_reject_rows(
        batch_no: int, body: RowsChoice, reader: ReaderDep, conn: WarehouseDep
    ) -> dict[str, Any]:
        found, reviewed = _reviewed_batch(conn, batch_no, reader)
        reader.require_act(found["dag_id"], f"{reviewed.name} data")
        try:
            decision = decisions.reject_rows(
                conn,
                batch_no,
                row_nos=body.row_nos,
                rule_id=_text(body.rule_id),
                user=reader.name,
                reason=body.reason,
                via="review",
            )
        except decisions.DecisionError as error:
            raise _refused(error) from error
        return {"decision": _decision_json(decision)}

    @app.post("/api/batches/{batch_no}/release/complete", name="api_complete_release")
    def api_complete_release(
        batch_no: int, reader: ReaderDep, conn: WarehouseDep
    ) -> dict[str, Any]:
        """Finish a release whose validation or publication did not complete."""
        found, reviewed = _reviewed_batch(conn, batch_no, reader)
        reader.require_act(found["dag_id"], f"{reviewed.name} data")
        try:
            outcome = decisions.complete_release(conn, batch_no)
        except decisions.DecisionError as error:
            raise _refused(error) from error
        return {
            "decision": _decision_json(outcome.decision),
            "release_batch_no": outcome.release_batch_no,
            "status": outcome.status,
            "published": outcome.published,
            "quarantined": {str(k): v for k, v in outcome.quarantined.items()},
            "collapsed": outcome.collapsed,
        }

    def _decide_batch(
        request: Request,
        batch_no: int,
        approve: bool,
        body: BatchDecisionBody,
        reader: Reader,
        conn: psycopg.Connection,
    ) -> dict[str, Any]:
        from lienthong.review.held_batch import decide_held_batch
        from lienthong.review.required_action import RequiredAction, RequiredActionError, answer

        found, reviewed = _reviewed_batch(conn, batch_no, reader)
        reader.require_act(found["dag_id"], f"{reviewed.name} data")
        if found["status"] != "held":
            earlier = decisions.batch_decision(conn, batch_no)
            detail = (
                f"batch {batch_no} was already decided: {earlier.action} by {earlier.decided_by} at {_utc(earlier.decided_at)}"
                if earlier
                else f"batch {batch_no} is {found['status']}, not held"
            )
            raise HTTPException(status.HTTP_409_CONFLICT, detail)
        if approve:
            # Refused before Airflow's Required Action is answered: answered, it could no
            # longer be rejected from here.
            try:
                decisions.refuse_if_corrected(conn, found["dataset"], batch_no)
            except decisions.DecisionError as error:
                raise _refused(error) from error
        answered_in_airflow = False
        if found["required_action"]:
            # Airflow's lock on the Required Action decides who answered first.
            try:
                answered_in_airflow = (
                    answer(
                        _airflow_base_url(request),
                        reader.token or "",
                        RequiredAction.from_row(found["required_action"]),
                        approve=approve,
                        reason=body.reason,
                    )
                    is not None
                )
            except RequiredActionError as error:
                if error.status == status.HTTP_409_CONFLICT:
                    raise HTTPException(
                        status.HTTP_409_CONFLICT,
                        f"batch {batch_no}'s Required Action was already answered in Airflow: {error.detail}",
                    ) from error
                raise HTTPException(
                    error.status if error.status in (401, 403) else status.HTTP_502_BAD_GATEWAY,
                    f"Airflow refused the answer: {error.detail}",
                ) from error
        try:
            decision = decide_held_batch(
                conn, batch_no, approve=approve, user=reader.name, reason=body.reason, via="review"
            )
        except decisions.DecisionError as error:
            raise _refused(error) from error
        return {
            "decision": _decision_json(decision),
            "required_action_answered": answered_in_airflow,
        }

    @app.post("/api/batches/{batch_no}/approve", name="api_approve_batch")
    def api_approve_batch(
        request: Request,
        batch_no: int,
        body: BatchDecisionBody,
        reader: ReaderDep,
        conn: WarehouseDep,
    ) -> dict[str, Any]:
        return _decide_batch(request, batch_no, True, body, reader, conn)

    @app.post("/api/batches/{batch_no}/reject", name="api_reject_batch")
    def api_reject_batch(
        request: Request,
        batch_no: int,
        body: BatchDecisionBody,
        reader: ReaderDep,
        conn: WarehouseDep,
    ) -> dict[str, Any]:
        return _decide_batch(request, batch_no, False, body, reader, conn)

    return app
