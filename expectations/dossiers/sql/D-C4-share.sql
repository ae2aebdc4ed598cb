-- At least 95 % of the applicants with a well-formed personal ID (D-C1 passes) are found in
-- the warehouse's population (the threshold of RULES.md; the others are flagged row by row).
SELECT count(*) AS applicants,
       count(*) FILTER (WHERE p.personal_id IS NOT NULL) AS found
FROM {batch} b
LEFT JOIN core.population p ON p.personal_id = b.applicant_personal_id
WHERE b.collapsed IS NULL
  AND b.applicant_personal_id ~ '^[0-9]{12}$'
  AND b.pid_birth_province IN (SELECT '0' || province_code FROM ref.legacy_provinces)
HAVING count(*) > 0
   AND count(*) FILTER (WHERE p.personal_id IS NOT NULL) < 0.95 * count(*)
