# syntax=docker/dockerfile:1

# ---- build ----
FROM rust:1.95-bookworm AS build
WORKDIR /src
# Build the dependencies alone first, so this layer is reused until Cargo.toml or
# Cargo.lock changes. Cargo refuses a manifest whose targets are missing, so stub
# every .rs path the manifest names (e.g. [[test]] path) besides main.rs/lib.rs.
COPY Cargo.toml Cargo.lock ./
# Build settings (how SQLite is compiled) apply to the dependency layer too.
COPY .cargo .cargo
RUN set -eu; \
    mkdir -p src; \
    echo 'fn main() {}' > src/main.rs; \
    : > src/lib.rs; \
    for f in $(sed -n 's/^[[:space:]]*path[[:space:]]*=[[:space:]]*"\([^"]*\.rs\)".*/\1/p' Cargo.toml); do \
        mkdir -p "$(dirname "$f")"; [ -e "$f" ] || : > "$f"; \
    done; \
    cargo build --release --locked; \
    rm -rf src tests

# The real sources (src/, migrations/, templates/, static/, tests/ …):
# copying the whole filtered context never fails on a directory that is absent.
COPY . .
# Drop the stub's build artifacts: the copied sources keep their (older) mtimes,
# so cargo would otherwise consider the stub binary up to date.
RUN set -eu; \
    rm -rf target/release/.fingerprint/overdue-* \
           target/release/deps/overdue-* target/release/deps/liboverdue-* \
           target/release/overdue target/release/liboverdue.*; \
    cargo build --release --locked --bin overdue; \
    install -m 0755 target/release/overdue /usr/local/bin/overdue

# ---- runtime ----
FROM debian:bookworm-slim

# ca-certificates for outgoing TLS (webhooks, mail, Postgres), curl for HEALTHCHECK.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*

# A fixed uid so a bind-mounted /data can be chowned on the host to match.
RUN groupadd --system --gid 10001 overdue \
    && useradd --system --uid 10001 --gid overdue --home-dir /data --no-create-home \
               --shell /usr/sbin/nologin overdue \
    && mkdir -p /data \
    && chown overdue:overdue /data

COPY --from=build /usr/local/bin/overdue /usr/local/bin/overdue

# Ownership must be set before VOLUME: a new named volume is seeded from it.
WORKDIR /data
VOLUME /data

ENV DATABASE_URL=sqlite:///data/overdue.db \
    OVERDUE_LISTEN=0.0.0.0:8000

USER overdue:overdue
EXPOSE 8000

# Probes the default port; change it too if OVERDUE_LISTEN is overridden.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/api/v3/status/ || exit 1

ENTRYPOINT ["/usr/local/bin/overdue"]
CMD ["serve"]
