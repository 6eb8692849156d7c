# Rendered by Odooplane: the build context holds everything this image installs.
# PostgreSQL 15 from Debian, with the official postgres image's conventions.
FROM localhost/debian:bookworm
RUN (getent group postgres >/dev/null || groupadd --system --gid 999 postgres) \
 && (getent passwd postgres >/dev/null || useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql --no-create-home --shell /bin/sh postgres) \
 && test "$(id -u postgres)" = 999
COPY debs /tmp/debs
RUN mkdir -p /etc/postgresql-common/createcluster.d \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/odooplane.conf \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /tmp/debs/*.deb \
 && rm -rf /tmp/debs /var/cache/apt/archives/*.deb /var/lib/apt/lists/*
COPY entrypoint.sh /usr/local/bin/postgres-entrypoint
RUN install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \
 && install -d -o postgres -g postgres -m 2775 /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PGDATA=/var/lib/postgresql/data
USER postgres
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
CMD ["postgres"]
