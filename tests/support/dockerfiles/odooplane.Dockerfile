# Odooplane (and its Odoo simulator) on the local Debian base image, installed with no network from
# the wheelhouse the build context carries. Built with `docker build --network none`.
ARG BASE
FROM ${BASE}
COPY wheelhouse /wheelhouse
RUN python3 -m venv /opt/odooplane \
 && /opt/odooplane/bin/pip install --no-index --find-links /wheelhouse --no-cache-dir odooplane \
 && groupadd --system --gid 101 odoo \
 && useradd --system --uid 101 --gid 101 --home-dir /var/lib/odoo --create-home odoo
# Numeric, like the official odoo image (uid 101): Compose and the engine resolve it without a passwd lookup.
USER 101:101
WORKDIR /var/lib/odoo
ENTRYPOINT ["/opt/odooplane/bin/python", "-m", "odooplane.sim"]
