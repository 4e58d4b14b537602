# ecr-promote as a Docker container action: a static (musl) binary on an empty image.
# Pinned by digest (the multi-platform index of rust:1.95-alpine); the tag is for reviewers.
FROM rust:1.95-alpine@sha256:606fd313a0f49743ee2a7bd49a0914bab7deedb12791f3a846a34a4711db7ed2 AS build
# Build-only packages; nothing of them reaches the runtime image.
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev ca-certificates
WORKDIR /src
# Dependencies in their own layer: a change to src/ does not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked --bin ecr-promote \
 && rm -rf src
COPY src ./src
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin ecr-promote \
 && cp target/release/ecr-promote /ecr-promote

# Runtime: nothing but the binary and the CA certificates (the TLS clients need them).
# No USER line: GitHub runs container actions as root so they can write the workspace.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /ecr-promote /ecr-promote
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# Exec form: the binary is PID 1 and gets SIGINT/SIGTERM; no shell drops INPUT_IMAGE-TAG.
ENTRYPOINT ["/ecr-promote"]
