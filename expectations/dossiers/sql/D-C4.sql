-- An applicant whose personal ID is well formed (D-C1 passes) but not in the warehouse's
-- population: published, and flagged.
SELECT b.row_no
FROM {batch} b
LEFT JOIN core.population p ON p.personal_id = b.applicant_personal_id
WHERE b.applicant_personal_id ~ '^[0-9]{12}$'
  AND b.pid_birth_province IN (SELECT '0' || province_code FROM ref.legacy_provinces)
  AND p.personal_id IS NULL
