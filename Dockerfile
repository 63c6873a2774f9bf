# berthd in a container, driving the Docker engine whose socket is mounted
# into it (see docker-compose.yml).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p berth-server --bin berthd

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/berthd /usr/local/bin/berthd
ENV BERTH_DATA_DIR=/var/lib/berth
VOLUME /var/lib/berth
ENTRYPOINT ["berthd"]
