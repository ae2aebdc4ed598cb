-- For a birth, the personal ID's G (century, with sex) and YY (year) agree with the event's
-- date; and no event happened after it was registered (its day read in Vietnam).
SELECT row_no
FROM {batch}
WHERE event_day IS NOT NULL
  AND ((event_type = 'birth'
        AND personal_id ~ '^[0-9]{12}$'
        AND (substr(personal_id, 4, 1)::int / 2 <> extract(year FROM event_day)::int / 100 - 19
             OR substr(personal_id, 5, 2) <> to_char(event_day, 'YY')))
       OR event_day > (registered_ts AT TIME ZONE 'Asia/Ho_Chi_Minh')::date)
