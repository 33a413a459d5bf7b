# Stand-in for nginx:1.27-bookworm from Debian bookworm's nginx 1.22 (test fixture only): reads
# /etc/nginx/conf.d/*.conf, logs to stdout/stderr, runs in the foreground.
FROM kb-fixture/bookworm:minbase
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc /usr/share/man \
        /etc/nginx/sites-enabled/default \
    && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
