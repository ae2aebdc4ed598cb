-- The permanent commune lies in its province, in the current scheme or the pre-2025 one
-- (a pre-2025 address is then remapped or placed under rule P-L3).
SELECT row_no
FROM {batch}
WHERE perm_province_code IS NOT NULL
  AND perm_commune_code IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM ref.communes c
                  WHERE c.commune_code = perm_commune_code
                    AND c.province_code = perm_province_code)
  AND NOT EXISTS (SELECT 1 FROM ref.legacy_communes l
                  WHERE l.commune_code = perm_commune_code
                    AND l.province_code = perm_province_code)
