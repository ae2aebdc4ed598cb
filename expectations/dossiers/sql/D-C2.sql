-- received_at is not after due_at; completed_at is there exactly when the status is completed
-- or rejected, and not before received_at. Timestamps that are not RFC 3339 are rule D-K1's;
-- a row without a status is rule D-S2's.
SELECT row_no
FROM {batch}
WHERE (received_ts IS NOT NULL AND due_ts IS NOT NULL AND received_ts > due_ts)
   OR (status IS NOT NULL
       AND (completed_at IS NOT NULL) <> coalesce(status IN ('completed', 'rejected'), false))
   OR (completed_ts IS NOT NULL AND received_ts IS NOT NULL AND completed_ts < received_ts)
