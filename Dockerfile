# syntax=docker/dockerfile:1
# Multi-stage build of the console: the build stage runs the same steps as
# `make build` (a static, cgo-free binary; SQLite is pure Go), the final stage
# holds only that binary and runs as an unprivileged user.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make build BIN=/out/console && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/console /usr/local/bin/console
COPY --from=build --chown=65532:65532 /out/data /data
# The database lives on a volume owned by the nonroot user (uid 65532).
ENV CONSOLE_ADDR=0.0.0.0:8080 \
    CONSOLE_DB=/data/console.db
VOLUME ["/data"]
EXPOSE 8080
USER nonroot:nonroot
# The base image has no shell and no curl: the console checks itself, asking
# /readyz on CONSOLE_ADDR (docs/deploy.md).
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/console", "health"]
ENTRYPOINT ["/usr/local/bin/console"]
CMD ["serve"]
