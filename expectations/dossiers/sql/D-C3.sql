-- The commune is a commune (current scheme) of the province whose file this is.
SELECT b.row_no
FROM {batch} b
LEFT JOIN ref.communes c
       ON c.commune_code = b.commune_code AND c.province_code = b.batch_province
WHERE b.commune_code IS NULL
   OR c.commune_code IS NULL
