# syntax=docker/dockerfile:1

# Build a static, CGO-free binary (the embedded SQLite driver is pure Go) with
# the release toolchain govulncheck checks in CI (Makefile RELEASE_GO).
FROM golang:1.27.3-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN make build VERSION=${VERSION} COMMIT=${COMMIT} RELEASE_GO=local OUT=/out/invoices && mkdir -p /out/data

# Distroless static image: no shell, no package manager, runs as nonroot.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/invoices /usr/local/bin/invoices
# SQLite files live here when no PostgreSQL is configured; mount a volume.
COPY --from=build --chown=nonroot:nonroot /out/data /data
ENV DATA_DIR=/data \
    PORT=3001 \
    LOG_FORMAT=json
EXPOSE 3001
USER nonroot:nonroot
# Exec form: the image has no shell. The binary asks its own /healthz.
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/invoices", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/invoices"]
