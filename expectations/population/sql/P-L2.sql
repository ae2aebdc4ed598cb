-- Stamped in the future beyond 5 minutes of clock skew. (A timestamp that is not RFC 3339
-- with a zone is rule P-K5's.)
SELECT row_no
FROM {batch}
WHERE updated_ts > extracted_at + interval '5 minutes'
