-- Staging rows and their fixes are written only by the shared mechanism (pipeline.staging), for
-- the batch it has just opened or found again, in the transaction that knows it exists; batches
-- are never deleted. A foreign key there checked every one of millions of rows against
-- audit.batches during COPY (a fifth of COPY's time) and guarded nothing more. Core tables and
-- the audit of outcomes (findings, quarantine, decisions) keep theirs.
ALTER TABLE staging.population DROP CONSTRAINT IF EXISTS population_batch_no_fkey;
ALTER TABLE staging.civil_events DROP CONSTRAINT IF EXISTS civil_events_batch_no_fkey;
ALTER TABLE staging.dossiers DROP CONSTRAINT IF EXISTS dossiers_batch_no_fkey;
ALTER TABLE staging.p06_tasks DROP CONSTRAINT IF EXISTS p06_tasks_batch_no_fkey;
ALTER TABLE audit.fixes DROP CONSTRAINT IF EXISTS fixes_batch_no_fkey;
