# Rendered by Odooplane: the build context holds everything this image installs.
# The Odoo simulator (python -m odooplane.sim): odoo-bin's command line, /etc/odoo/odoo.conf.
FROM python:3.11-slim-bookworm
COPY wheelhouse /tmp/wheelhouse
RUN python3 -m venv /opt/odooplane \
 && /opt/odooplane/bin/pip install --no-index --find-links /tmp/wheelhouse --no-cache-dir psycopg==3.3.9 psycopg-binary==3.3.9 typing-extensions==4.16.0 \
 && rm -rf /tmp/wheelhouse \
 && (getent group 101 >/dev/null || groupadd --system --gid 101 odoo) \
 && useradd --system --uid 101 --gid 101 --home-dir /var/lib/odoo --no-create-home --shell /usr/sbin/nologin odoo \
 && install -d -o 101 -g 101 -m 0700 /var/lib/odoo \
 && install -d -m 0755 /etc/odoo /mnt/extra-addons
COPY odooplane /opt/odooplane/src/odooplane
ENV PYTHONPATH=/opt/odooplane/src PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 101:101
WORKDIR /var/lib/odoo
EXPOSE 8069 8072
ENTRYPOINT ["/opt/odooplane/bin/python", "-m", "odooplane.sim"]
CMD ["-c", "/etc/odoo/odoo.conf"]
