# Rendered by Odooplane: the build context holds everything this image installs.
# The data-plane agent: one filestore task per container, volumes under /data/<storage>.
FROM python:3.11-slim-bookworm
COPY odooplane /opt/odooplane/src/odooplane
RUN install -d -m 0755 /data
ENV PYTHONPATH=/opt/odooplane/src PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 101:101
WORKDIR /data
ENTRYPOINT ["python3", "-m", "odooplane.agent"]
CMD ["--root", "/data"]
