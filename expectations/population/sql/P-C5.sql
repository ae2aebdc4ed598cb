-- Dates judged by the calendar day in Vietnam at the extraction.
SELECT row_no
FROM {batch}
WHERE (date_of_birth IS NOT NULL
       AND (dob IS NULL
            OR dob < DATE '1900-01-01'
            OR dob > (extracted_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date))
   OR (date_of_death IS NOT NULL
       AND (dod IS NULL
            OR dod < dob
            OR dod > (extracted_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date))
