# Stand-in for python:3.11-slim-bookworm, built from Debian bookworm packages (test fixture only).
# Like the official image: python and pip on PATH from /usr/local/bin, C.UTF-8, no compiler.
FROM kb-fixture/bookworm:minbase
ENV LANG=C.UTF-8 PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3.11 python3.11-venv ca-certificates \
    && python3.11 -m venv /usr/local \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc /usr/share/man
CMD ["python3"]
