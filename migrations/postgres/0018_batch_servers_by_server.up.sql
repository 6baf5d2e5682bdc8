-- 0018 (PostgreSQL): find the batches sent to one server. Same as
-- ../0018_batch_servers_by_server.up.sql.
CREATE INDEX batch_servers_by_server ON batch_servers (server_id);
