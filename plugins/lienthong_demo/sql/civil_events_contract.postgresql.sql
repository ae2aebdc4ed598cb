-- The civil_events table exactly as SOURCES.md §2 defines it, on PostgreSQL.
CREATE TABLE civil_events (
  event_id       VARCHAR(32)  PRIMARY KEY,
  event_type     VARCHAR(10)  NOT NULL,
  personal_id    CHAR(12),
  full_name      VARCHAR(200),
  event_date     DATE,
  commune_code   CHAR(5),
  registered_at  TIMESTAMP    NOT NULL,
  updated_at     TIMESTAMP    NOT NULL,
  is_deleted     BOOLEAN      NOT NULL DEFAULT FALSE
);

-- What an incremental reader filters and orders on.
CREATE INDEX civil_events_updated_at ON civil_events (updated_at, event_id);
