-- 0006 (PostgreSQL): chunk failure kinds, the images a preview offered, who
-- approved a batch. Same as ../0006_batch_outcomes.up.sql (portable SQL).
ALTER TABLE batch_chunks ADD COLUMN failure TEXT NOT NULL DEFAULT '';
ALTER TABLE prepared_actions ADD COLUMN images TEXT NOT NULL DEFAULT '';
ALTER TABLE batches ADD COLUMN approved_by TEXT NOT NULL DEFAULT '';

-- Chunks recorded before 0006 said their kind only in words.
UPDATE batch_chunks SET failure = 'timeout'
    WHERE outcome = 'unknown' AND transport_error LIKE 'no answer within %';
UPDATE batch_chunks SET failure = 'refused' WHERE outcome = 'api_error';
UPDATE batch_chunks SET failure = 'interrupted'
    WHERE outcome = 'unknown' AND transport_error LIKE 'the console stopped while%';
UPDATE batch_chunks SET failure = 'shutdown'
    WHERE outcome = 'not_sent' AND transport_error LIKE 'the console stopped before%';
UPDATE batch_chunks SET failure = 'cut' WHERE outcome = 'unknown' AND failure = '';
UPDATE batch_chunks SET failure = 'not_recorded' WHERE outcome = 'not_sent' AND failure = '';
