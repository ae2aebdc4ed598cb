-- The commune where the event was registered is a current commune of this registry's province.
SELECT row_no
FROM {batch}
WHERE commune_code IS NOT NULL
  AND (commune_code, batch_province::text) NOT IN
          (SELECT commune_code::text, province_code::text FROM ref.communes)
