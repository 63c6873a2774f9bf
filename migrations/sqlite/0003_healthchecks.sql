-- A web process's declared health check path (heroku.yml run.<type>.healthcheck).
ALTER TABLE release_processes ADD COLUMN healthcheck TEXT;
