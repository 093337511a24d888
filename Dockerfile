# syntax=docker/dockerfile:1
#
# revokd in a small image: a static binary on distroless, running as a
# non-root user. The socket goes in /run/revokd and the embedded store in
# /var/lib/revokd; mount volumes there (the socket volume is what the app's
# container shares).
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t revokd .
#   docker run -v revokd-run:/run/revokd -v /etc/revokd:/etc/revokd:ro revokd \
#       serve --hmac-secret-file /etc/revokd/hs256.secret

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/revokd ./cmd/revokd
# The final image has no shell to make directories with: make them here,
# owned by distroless's nonroot user (65532).
RUN mkdir -p /out/run/revokd /out/var/lib/revokd

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/revokd /usr/local/bin/revokd
COPY --from=build --chown=65532:65532 /out/run/revokd /run/revokd
COPY --from=build --chown=65532:65532 /out/var/lib/revokd /var/lib/revokd
ENV REVOKD_SOCKET=/run/revokd/revokd.sock \
    REVOKD_DATA_DIR=/var/lib/revokd \
    REVOKD_LOG_FORMAT=json
VOLUME ["/run/revokd", "/var/lib/revokd"]
USER 65532:65532
# Liveness, not readiness: Docker's one health status is what Swarm and
# autoheal restart on, and restarting a daemon whose database is away drops
# the revocations it still enforces. Readiness (revokd healthcheck) is for
# probes that only take a container out of rotation.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s CMD ["/usr/local/bin/revokd", "healthcheck", "--live"]
ENTRYPOINT ["/usr/local/bin/revokd"]
CMD ["serve"]
