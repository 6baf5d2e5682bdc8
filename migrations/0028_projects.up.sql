-- 0028: several projects and regions (CONSOLE_PROJECTS_FILE). Every batch,
-- prepared action, approval request and audit entry records the short name
-- of the project it belongs to; users may be limited to some projects.
-- Plain ALTER TABLE ... ADD COLUMN with constant defaults, so the same
-- statements serve other SQL databases.
--
-- Batches and prepared actions written before this migration have project
-- '' and are given to the console's first project when it starts (app
-- adopts them), so a console that ran with one project keeps its batches
-- under that project's name. Audit entries are append-only: older ones keep
-- project '' (their URLs still name the cloud project id).
ALTER TABLE prepared_actions ADD COLUMN project TEXT NOT NULL DEFAULT '';
ALTER TABLE batches ADD COLUMN project TEXT NOT NULL DEFAULT '';
CREATE INDEX batches_by_project ON batches(project, created_at DESC, id);

-- The audit entry's project is part of the hashed content when it is not
-- empty (security events have none), so old entries keep their hashes.
ALTER TABLE audit_entries ADD COLUMN project TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_entries_project ON audit_entries (project, id);

-- The projects a user may see and act on. No row for a user: all projects.
CREATE TABLE user_projects (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project TEXT    NOT NULL,
    PRIMARY KEY (user_id, project)
);

-- Approval requests are for one project's servers; the approved batch runs
-- in that project. Requests written before have '' and are given to the
-- first project at start, like batches.
ALTER TABLE approval_requests ADD COLUMN project TEXT NOT NULL DEFAULT '';
