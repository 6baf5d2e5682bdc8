-- 0028 (PostgreSQL): several projects and regions. Same shape as
-- ../0028_projects.up.sql; read that file for what each column means.
ALTER TABLE prepared_actions ADD COLUMN project TEXT NOT NULL DEFAULT '';
ALTER TABLE batches ADD COLUMN project TEXT NOT NULL DEFAULT '';
CREATE INDEX batches_by_project ON batches(project, created_at DESC, id);

-- Part of the hashed content when not empty, so old entries keep their
-- hashes. Adding a column with a constant default rewrites no row, so the
-- audit log's append-only triggers are not fired.
ALTER TABLE audit_entries ADD COLUMN project TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_entries_project ON audit_entries (project, id);

CREATE TABLE user_projects (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project TEXT   NOT NULL,
    PRIMARY KEY (user_id, project)
);

ALTER TABLE approval_requests ADD COLUMN project TEXT NOT NULL DEFAULT '';
