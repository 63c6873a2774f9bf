-- Metric samples behind the charts and `berth metrics` (issue 18).
--
-- One row per bucket of `resolution` seconds (10, 60 or 600) starting at `at`,
-- in Unix seconds (not milliseconds as elsewhere: a bucket start is a
-- multiple of its resolution). Every tick of the sampler adds its deltas to
-- the bucket holding it at each resolution, then removes the buckets each
-- resolution no longer keeps (1 h, 24 h, 7 days): an app holds at most
-- 361 + 1441 + 1009 rows in each table (per dyno in the second).

CREATE TABLE app_metric_samples (
    app_id INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    resolution INTEGER NOT NULL,
    at INTEGER NOT NULL,
    responses_1xx INTEGER NOT NULL DEFAULT 0,
    responses_2xx INTEGER NOT NULL DEFAULT 0,
    responses_3xx INTEGER NOT NULL DEFAULT 0,
    responses_4xx INTEGER NOT NULL DEFAULT 0,
    responses_5xx INTEGER NOT NULL DEFAULT 0,
    -- Responses per router latency bucket, not cumulative; the last counts
    -- those above the router's last bound. A column each, so that a tick adds
    -- to them in one upsert.
    latency_bucket_0 INTEGER NOT NULL DEFAULT 0,
    latency_bucket_1 INTEGER NOT NULL DEFAULT 0,
    latency_bucket_2 INTEGER NOT NULL DEFAULT 0,
    latency_bucket_3 INTEGER NOT NULL DEFAULT 0,
    latency_bucket_4 INTEGER NOT NULL DEFAULT 0,
    latency_bucket_5 INTEGER NOT NULL DEFAULT 0,
    latency_bucket_6 INTEGER NOT NULL DEFAULT 0,
    latency_bucket_7 INTEGER NOT NULL DEFAULT 0,
    latency_bucket_8 INTEGER NOT NULL DEFAULT 0,
    latency_bucket_9 INTEGER NOT NULL DEFAULT 0,
    latency_bucket_10 INTEGER NOT NULL DEFAULT 0,
    latency_bucket_11 INTEGER NOT NULL DEFAULT 0,
    latency_bucket_12 INTEGER NOT NULL DEFAULT 0,
    latency_sum_seconds REAL NOT NULL DEFAULT 0,
    restarts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, resolution, at)
) WITHOUT ROWID;

-- Pruning and the app list's sparkline look across apps by resolution and age.
CREATE INDEX app_metric_samples_by_age ON app_metric_samples (resolution, at);

CREATE TABLE dyno_metric_samples (
    app_id INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    resolution INTEGER NOT NULL,
    at INTEGER NOT NULL,
    -- `web.1`; its process type and host as last seen in the bucket.
    dyno TEXT NOT NULL,
    process_type TEXT NOT NULL,
    host TEXT NOT NULL,
    -- Memory use seen by the ticks of the bucket: the most, and the sum over
    -- `observations` ticks (for the average).
    memory_bytes_max INTEGER NOT NULL,
    memory_bytes_sum INTEGER NOT NULL,
    observations INTEGER NOT NULL,
    -- CPU time used within the bucket.
    cpu_seconds REAL NOT NULL,
    -- The latest known memory limit; NULL when unlimited.
    memory_limit_bytes INTEGER,
    PRIMARY KEY (app_id, resolution, at, dyno)
) WITHOUT ROWID;

CREATE INDEX dyno_metric_samples_by_age ON dyno_metric_samples (resolution, at);
