-- Maintenance mode: the router answers 503 with a maintenance page; processes keep running.
ALTER TABLE apps ADD COLUMN maintenance INTEGER NOT NULL DEFAULT 0;
