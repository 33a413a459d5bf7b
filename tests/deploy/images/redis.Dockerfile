# Stand-in for redis:7 from Debian bookworm's redis-server 7.0 (test fixture only): data in
# /data, redis-server and redis-cli on PATH, runs as the redis user.
FROM kb-fixture/bookworm:minbase
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc /usr/share/man \
    && mkdir -p /data && chown redis:redis /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]
