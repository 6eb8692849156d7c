# PostgreSQL on the local Debian base image: the server binaries of the pgserver wheel (relocatable,
# linked only against libc and zlib), installed with no network from the wheel the context carries.
ARG BASE
FROM ${BASE}
COPY wheels /wheels
RUN python3 -m venv /opt/pgserver \
 && /opt/pgserver/bin/pip install --no-index --no-deps --find-links /wheels --no-cache-dir pgserver \
 && ln -s /opt/pgserver/lib/python3*/site-packages/pgserver/pginstall/bin/* /usr/local/bin/ \
 && groupadd --system --gid 999 postgres \
 && useradd --system --uid 999 --gid 999 --home-dir /var/lib/postgresql --create-home postgres \
 && install -d -o 999 -g 999 -m 0700 /var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
ENV PGDATA=/var/lib/postgresql/data
# Numeric, like the official postgres image (uid 999).
USER 999:999
# SIGINT is PostgreSQL's fast shutdown.
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
