-- YY (the ID's 5th and 6th digits) are the last two digits of the year of birth.
-- The two pairs compared first, the regular expressions only where they differ (the same rows,
-- a third of the time: see P-C3).
SELECT row_no
FROM {batch}
WHERE CASE
        WHEN substr(personal_id, 5, 2) <> substr(date_of_birth, 3, 2)
        THEN personal_id ~ '^[0-9]{12}$' AND date_of_birth ~ '^[0-9]{4}-'
      END
