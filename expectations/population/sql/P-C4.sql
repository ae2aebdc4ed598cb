-- YY (the ID's 5th and 6th digits) are the last two digits of the year of birth.
SELECT row_no
FROM {batch}
WHERE personal_id ~ '^[0-9]{12}$'
  AND date_of_birth ~ '^[0-9]{4}-'
  AND substr(personal_id, 5, 2) <> substr(date_of_birth, 3, 2)
