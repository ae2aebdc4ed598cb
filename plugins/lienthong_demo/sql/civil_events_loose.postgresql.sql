-- civil_events as another team's registry might have built it: the contract's columns with
-- wider types and no primary key (an event may have several rows), so that values outside the
-- contract's types and limits (rule E-K3) and several rows of one event (E-K2) can exist.
CREATE TABLE civil_events (
  event_id       VARCHAR(255) NOT NULL,
  event_type     VARCHAR(255) NOT NULL,
  personal_id    VARCHAR(255),
  full_name      TEXT,
  event_date     DATE,
  commune_code   VARCHAR(255),
  registered_at  TIMESTAMP    NOT NULL,
  updated_at     TIMESTAMP    NOT NULL,
  is_deleted     SMALLINT     NOT NULL DEFAULT 0
);

CREATE INDEX civil_events_updated_at ON civil_events (updated_at, event_id);
