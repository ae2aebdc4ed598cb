-- The window was read whole: no row the window cannot place (a NULL updated_at, or one
-- stamped after the registry's own clock, which no window reaches until then), and no
-- version in the re-checked past that an earlier batch did not receive (a commit later than
-- the lag allows). Read from the batch's record, so that it holds for an empty window too;
-- each failing row says what, beside the rows the batch read.
SELECT problem, (SELECT count(*) FROM {batch}) AS rows_read
FROM (SELECT 'rows without updated_at: ' || (source_facts ->> 'null_updated_at') AS problem
      FROM audit.batches
      WHERE batch_no = {batch_no}
        AND coalesce((source_facts ->> 'null_updated_at')::int, 0) > 0
      UNION ALL
      SELECT 'rows stamped after the registry''s clock (no window reads them until then): '
             || (source_facts ->> 'future_updated_at')
      FROM audit.batches
      WHERE batch_no = {batch_no}
        AND coalesce((source_facts ->> 'future_updated_at')::int, 0) > 0
      UNION ALL
      SELECT 'committed after its window was read: ' || missed
      FROM audit.batches,
           jsonb_array_elements_text(coalesce(source_facts -> 'recheck_missed', '[]')) AS missed
      WHERE batch_no = {batch_no}) AS problems
