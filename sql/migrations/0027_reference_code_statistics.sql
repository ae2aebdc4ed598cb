-- The place rules (P-C6, D-C3, E-C3) compare staging's text codes with the reference tables'
-- fixed-width codes, as text. Without statistics on those casts the planner guessed the
-- reference codes few and crowded, costed hashing them far above sorting the whole batch,
-- and chose to sort a million rows to merge them with a few thousand codes (P-C6 at a million
-- population rows: 1.2 s merged, 0.5 s hashed). These give it the casts' real spread.
CREATE STATISTICS ref.communes_codes_as_text
    ON (commune_code::text), (province_code::text) FROM ref.communes;
CREATE STATISTICS ref.legacy_communes_codes_as_text
    ON (commune_code::text), (province_code::text) FROM ref.legacy_communes;
ANALYZE ref.communes;
ANALYZE ref.legacy_communes;
