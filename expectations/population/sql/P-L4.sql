-- A death registered in a province's civil-status registry, not reflected here.
SELECT row_no
FROM {batch}
WHERE date_of_death IS NULL
  AND personal_id IN (SELECT v.personal_id FROM core.civil_events v
                      WHERE v.event_type = 'death' AND NOT v.is_deleted)
