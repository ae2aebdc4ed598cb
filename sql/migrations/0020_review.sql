-- Operators' review (plugins/lienthong/review): their decisions, append-only; the rows a
-- release re-validated; and the Airflow Required Action that waits for a held batch.

-- A release is re-validated as a batch of its own (mode 'release', allowed since 0005,
-- batch_key 'release:<decision id>'), staged from the released rows' payloads.

-- Every decision an operator took, with who, when and why. Nobody updates or deletes a
-- decision: the triggers below refuse it, whoever asks (owner included).
CREATE TABLE audit.decisions (
    decision_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    decided_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    decided_by        text NOT NULL CHECK (decided_by <> ''),
    action            text NOT NULL CHECK (action IN ('release_rows', 'reject_rows',
                                                      'approve_batch', 'reject_batch')),
    dataset           text NOT NULL,
    batch_no          bigint NOT NULL REFERENCES audit.batches,
    rule_id           text,                -- the rule whose rows were chosen, if chosen so
    row_nos           integer[] NOT NULL DEFAULT '{}',  -- the quarantined rows decided
    corrections       jsonb NOT NULL DEFAULT '{}',      -- row_no → {field: corrected value}
    reason            text NOT NULL CHECK (btrim(reason) <> ''),
    via               text NOT NULL CHECK (via IN ('review', 'required_action')),
    release_batch_no  bigint REFERENCES audit.batches,  -- the batch that re-validated a release
    CHECK ((action = 'release_rows') = (release_batch_no IS NOT NULL)),
    CHECK (action IN ('approve_batch', 'reject_batch') OR cardinality(row_nos) > 0)
);
CREATE INDEX ON audit.decisions (batch_no);
-- A held batch is decided once.
CREATE UNIQUE INDEX decisions_one_per_held_batch ON audit.decisions (batch_no)
    WHERE action IN ('approve_batch', 'reject_batch');

-- Which row of a release batch is which quarantined row.
CREATE TABLE audit.released_rows (
    decision_id       bigint NOT NULL REFERENCES audit.decisions,
    batch_no          bigint NOT NULL,     -- the quarantined row's batch
    row_no            integer NOT NULL,
    release_batch_no  bigint NOT NULL REFERENCES audit.batches,
    release_row_no    integer NOT NULL,
    PRIMARY KEY (release_batch_no, release_row_no),
    FOREIGN KEY (batch_no, row_no) REFERENCES quarantine.records
);
CREATE INDEX ON audit.released_rows (batch_no, row_no);

CREATE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON audit.decisions
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON audit.decisions
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER released_rows_append_only BEFORE UPDATE OR DELETE ON audit.released_rows
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER released_rows_no_truncate BEFORE TRUNCATE ON audit.released_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- The same record quarantined in several batches (a future-stamped row is received again by
-- every incremental run until its time comes): the view shows a row's other quarantines.
CREATE INDEX ON quarantine.records (dataset, record_key) WHERE status = 'held';

-- A held batch's Required Action in Airflow (a human-in-the-loop task on its DAG run), so that
-- a decision taken in the review view answers it too; and when its holders were told.
CREATE TABLE audit.batch_reviews (
    batch_no      bigint PRIMARY KEY REFERENCES audit.batches,
    dag_id        text NOT NULL,
    run_id        text NOT NULL,
    task_id       text NOT NULL,
    map_index     integer NOT NULL DEFAULT -1,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    notified_at   timestamptz
);
