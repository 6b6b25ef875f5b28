# wxlink's container image: the `wxlink` binary on a small Debian base, run as a non-root user,
# with its data directory (database, media downloads, locks) in one volume at /data.
#
#   docker build -t wxlink .
#   docker run -d -p 127.0.0.1:8000:8000 -v wxlink-data:/data -e WXLINK_TOKEN=... wxlink
#                                     # `wxlink serve` on 0.0.0.0:$PORT (default 8000)
#   docker run -i --rm -v wxlink-data:/data wxlink mcp          # MCP over stdio
#   docker run -it --rm -v wxlink-data:/data wxlink login       # any other wxlink command
#
# The base images are build arguments, so the image also builds where Docker Hub cannot be
# reached (tests/docker/smoke.sh passes locally built Debian images). The build stage needs a
# Rust toolchain of at least the workspace's rust-version, gcc and libc headers (rusqlite builds
# SQLite from source); nothing else: TLS is rustls with bundled roots, protobuf is compiled by
# protox. Uses no BuildKit-only syntax, so the classic builder works too.
ARG RUST_IMAGE=docker.io/library/rust:1.89-slim-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
ENV CARGO_PROFILE_RELEASE_STRIP=symbols \
    CARGO_TERM_COLOR=never
RUN cargo build --release --locked -p wxlink \
    && install -D -m 0755 target/release/wxlink /out/usr/local/bin/wxlink \
    && install -D -m 0755 docker/entrypoint.sh /out/usr/local/bin/wxlink-entrypoint \
    && install -D -m 0755 docker/healthcheck.sh /out/usr/local/bin/wxlink-healthcheck \
    && /out/usr/local/bin/wxlink --version

FROM ${RUNTIME_IMAGE}
# A fixed uid/gid so a host directory can be chowned for a bind mount; /data is created 0700
# and owned by that user, and a new named volume takes both from the image.
RUN groupadd --system --gid 10001 wxlink \
    && useradd --system --uid 10001 --gid wxlink --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin wxlink \
    && install -d -m 0700 -o wxlink -g wxlink /data
COPY --from=build /out/ /
# OCI labels; the MCP registry checks the server name label of an `oci` package.
LABEL org.opencontainers.image.title="wxlink" \
      org.opencontainers.image.description="Let AI agents use WeChat: an MCP server over WeChat's iLink Bot API and Wechaty." \
      org.opencontainers.image.source="https://github.com/wxlink/wxlink" \
      org.opencontainers.image.licenses="MIT" \
      io.modelcontextprotocol.server.name="io.github.wxlink/wxlink"
ENV WXLINK_HOME=/data \
    PORT=8000
USER wxlink:wxlink
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# GET /health (no token needed) with bash's /dev/tcp: the base has no curl. Only `serve`
# listens on HTTP; other commands (stdio `mcp`, `login`) count as healthy while they run.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/wxlink-healthcheck"]
ENTRYPOINT ["/usr/local/bin/wxlink-entrypoint"]
CMD ["serve"]
