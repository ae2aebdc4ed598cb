-- Administrative units, current (since 2025-07-01) and pre-2025, and the
-- conversion between them. Loaded by `lienthong.reference.load`.

CREATE TABLE ref.provinces (
    province_code  char(2) PRIMARY KEY,
    name           text NOT NULL
);

CREATE TABLE ref.communes (
    commune_code   char(5) PRIMARY KEY,
    name           text NOT NULL,
    province_code  char(2) NOT NULL REFERENCES ref.provinces
);

-- The 63 provinces before 2025; their 2-digit codes, zero-padded to 3, are
-- the PPP of a personal ID.
CREATE TABLE ref.legacy_provinces (
    province_code  char(2) PRIMARY KEY,
    name           text NOT NULL
);

CREATE TABLE ref.legacy_communes (
    commune_code   char(5) PRIMARY KEY,
    name           text NOT NULL,
    province_code  char(2) NOT NULL REFERENCES ref.legacy_provinces
);

-- One row per (old commune, new commune) it went into. An old commune with
-- one row went whole into one new commune; with several it was split.
CREATE TABLE ref.commune_conversion (
    legacy_commune_code  char(5) NOT NULL REFERENCES ref.legacy_communes,
    commune_code         char(5) NOT NULL REFERENCES ref.communes,
    PRIMARY KEY (legacy_commune_code, commune_code)
);
CREATE INDEX ON ref.commune_conversion (commune_code);

-- What was loaded, from where, under which licence.
CREATE TABLE ref.sources (
    dataset     text PRIMARY KEY,
    package     text NOT NULL,
    version     text NOT NULL,
    licence     text NOT NULL,
    rows        integer NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);

-- Pre-2025 communes that no rule can place automatically (rule P-L3): not a
-- current code in the same province, and split among several current communes
-- or with no known successor.
CREATE VIEW ref.legacy_communes_to_place AS
SELECT l.province_code, l.commune_code
FROM ref.legacy_communes l
WHERE NOT EXISTS (SELECT 1 FROM ref.communes c
                  WHERE c.province_code = l.province_code AND c.commune_code = l.commune_code)
  AND (SELECT count(*) FROM ref.commune_conversion v
       WHERE v.legacy_commune_code = l.commune_code) <> 1;
