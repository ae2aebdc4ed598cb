-- The civil_events table exactly as SOURCES.md §2 defines it, on MySQL/MariaDB (InnoDB).
-- BOOLEAN is TINYINT(1) there; TIMESTAMP holds whole seconds.
CREATE TABLE civil_events (
  event_id       VARCHAR(32)  PRIMARY KEY,
  event_type     VARCHAR(10)  NOT NULL,
  personal_id    CHAR(12),
  full_name      VARCHAR(200),
  event_date     DATE,
  commune_code   CHAR(5),
  registered_at  TIMESTAMP    NOT NULL,
  updated_at     TIMESTAMP    NOT NULL,
  is_deleted     BOOLEAN      NOT NULL DEFAULT FALSE,
  INDEX civil_events_updated_at (updated_at, event_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
