-- 0018: find the batches sent to one server (the server page's "Batches on
-- this server") without scanning every batch's servers.
CREATE INDEX batch_servers_by_server ON batch_servers (server_id);
