-- The managed hosts added to the platform besides the default one (which is
-- berthd's own engine and is not listed here). `node_id` is the host's node
-- in the platform's swarm; labels are JSON, as given to `hosts:add`.
CREATE TABLE hosts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    docker_host TEXT NOT NULL,
    node_id TEXT NOT NULL UNIQUE,
    labels TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
