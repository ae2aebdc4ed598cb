-- Copies of a dossier_id left after identical copies collapsed differ: the file says two
-- things of one dossier, and a person must settle which. Rows that break the contract
-- (rule D-K1) take no part.
SELECT row_no
FROM {batch}
WHERE item_defect IS NULL
  AND dossier_id IN (SELECT dossier_id
                     FROM {batch}
                     WHERE dossier_id IS NOT NULL AND item_defect IS NULL
                     GROUP BY dossier_id
                     HAVING count(*) > 1)
