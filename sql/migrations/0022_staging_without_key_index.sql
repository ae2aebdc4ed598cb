-- Staging is read by batch: the rules, collapsing duplicates and publishing each scan one batch
-- (its primary key, batch_no then row_no, finds it) and group or join its keys by hash or sort.
-- No query looks a key up by index, and keeping one cost COPY a quarter of its server time
-- (a million population rows: about 8 s of 32 on a 2-core machine) on the cores that
-- prepare the next rows.
DROP INDEX IF EXISTS staging.population_batch_no_personal_id_idx;
DROP INDEX IF EXISTS staging.civil_events_batch_no_event_id_idx;
DROP INDEX IF EXISTS staging.dossiers_batch_no_dossier_id_idx;
DROP INDEX IF EXISTS staging.p06_tasks_batch_no_task_code_idx;
