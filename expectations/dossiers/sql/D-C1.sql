-- The applicant's personal ID is there and is 12 digits (P-C1); whether its PPP is a
-- birth-registration province (P-C2) is a value-set expectation of its own.
SELECT row_no
FROM {batch}
WHERE applicant_personal_id IS NULL
   OR applicant_personal_id !~ '^[0-9]{12}$'
