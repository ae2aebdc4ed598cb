-- Copies of a dossier_id left after identical copies collapsed differ: the file says two
-- things of one dossier, and a person must settle which. Rows that break the contract
-- (rule D-K1) take no part.
-- One pass over the batch: each row with how many rows share its key, counted in a sort
-- by bytes (COLLATE "C": the same groups under any collation, without locale rules).
SELECT row_no
FROM (SELECT row_no, count(*) OVER (PARTITION BY dossier_id COLLATE "C") AS copies
      FROM {batch}
      WHERE dossier_id IS NOT NULL AND item_defect IS NULL) keyed
WHERE copies > 1
