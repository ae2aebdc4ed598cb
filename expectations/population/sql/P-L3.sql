-- Pre-2025 communes split among several current ones (or with no known successor): a person
-- places them. Whole ones were remapped when staged.
SELECT row_no
FROM {batch}
WHERE (perm_province_code, perm_commune_code) IN
          (SELECT province_code::text, commune_code::text FROM ref.legacy_communes_to_place)
   OR (cur_province_code, cur_commune_code) IN
          (SELECT province_code::text, commune_code::text FROM ref.legacy_communes_to_place)
