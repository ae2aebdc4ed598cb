-- Staged rows are a batch's working copy: validation, publication, review and releases read
-- them; core, quarantine and the audit schema keep what was published, what failed and why.
-- Kept for ever, staging grew by every batch (a national full sync: a million rows and their
-- payloads each time), and each batch's scans found their rows among all the earlier ones.
-- The staging retention (`lienthong.pipeline.retention`) deletes the staged rows of finished
-- batches no one can need any more; these say what it did.

-- When a batch's staged rows were deleted; null while they are staged.
ALTER TABLE audit.batches ADD COLUMN staging_expired_at timestamptz;
COMMENT ON COLUMN audit.batches.staging_expired_at IS
    'When the staging retention deleted the batch''s staged rows (null: still staged).';

-- What the review reads per province from a national dataset's staged rows (which provinces a
-- batch received, and each dimension's pass rate among their rows), kept when they go.
CREATE TABLE audit.province_scores (
    batch_no      bigint NOT NULL REFERENCES audit.batches,
    province_code text NOT NULL,
    dimension     text NOT NULL CHECK (dimension IN ('correct', 'sufficient', 'clean', 'live')),
    rows_checked  bigint NOT NULL,
    rows_failed   bigint NOT NULL,
    PRIMARY KEY (batch_no, province_code, dimension)
);
COMMENT ON TABLE audit.province_scores IS
    'Per batch, province and dimension: rows received and rows failing a quarantine rule, '
    'kept from the staged rows of a national batch when the staging retention deleted them.';
