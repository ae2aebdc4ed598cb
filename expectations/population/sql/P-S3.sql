-- Every documented field is in every item; the failing rows name the missing fields.
SELECT DISTINCT unnest(missing_fields) AS missing_field
FROM {batch}
