-- G (the ID's 4th digit) is 0/1 for men/women born 1900-1999, 2/3 for 2000-2099, and so on.
SELECT row_no
FROM {batch}
WHERE personal_id ~ '^[0-9]{12}$'
  AND date_of_birth ~ '^[0-9]{4}-'
  AND sex IN ('M', 'F')
  AND substr(personal_id, 4, 1)::int
      <> (substr(date_of_birth, 1, 2)::int - 19) * 2 + CASE sex WHEN 'F' THEN 1 ELSE 0 END
