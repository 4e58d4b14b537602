# ecr-promote as a Docker container action. Build stage: the locked release binary.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --bin ecr-promote \
 && cp target/release/ecr-promote /ecr-promote

# Runtime: a small Debian with CA certificates (octocrab's TLS client needs them).
# No USER line: GitHub runs container actions as root so they can write the workspace.
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /ecr-promote /ecr-promote
# Exec form: the binary is PID 1 and gets SIGINT/SIGTERM; no shell drops INPUT_IMAGE-TAG.
ENTRYPOINT ["/ecr-promote"]
