# Rendered by Odooplane: the build context holds everything this image installs.
# Odoo from a source tree: odoo-bin's command line, /etc/odoo/odoo.conf.
FROM localhost/odoo-base:bookworm
COPY wheelhouse /tmp/wheelhouse
COPY odoo/requirements.txt /tmp/requirements.txt
RUN python3 -m venv /opt/odoo/venv \
 && /opt/odoo/venv/bin/pip install --no-index --find-links /tmp/wheelhouse --no-cache-dir -r /tmp/requirements.txt \
 && rm -rf /tmp/wheelhouse /tmp/requirements.txt \
 && (getent group 101 >/dev/null || groupadd --system --gid 101 odoo) \
 && useradd --system --uid 101 --gid 101 --home-dir /var/lib/odoo --no-create-home --shell /usr/sbin/nologin odoo \
 && install -d -o 101 -g 101 -m 0700 /var/lib/odoo \
 && install -d -m 0755 /etc/odoo /mnt/extra-addons
COPY odoo /opt/odoo/src
COPY addons/0 /mnt/extra-addons/0
COPY addons/1 /mnt/extra-addons/1
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 101:101
WORKDIR /var/lib/odoo
EXPOSE 8069 8072
ENTRYPOINT ["/opt/odoo/venv/bin/python", "/opt/odoo/src/odoo-bin"]
CMD ["-c", "/etc/odoo/odoo.conf"]
