# Rendered by Odooplane: the build context holds everything this image installs.
# Traefik, the edge proxy, from the traefik binary of the build context.
FROM localhost/debian:bookworm
COPY traefik /usr/local/bin/traefik
RUN install -d -o 65532 -g 65532 -m 0755 /var/log/traefik /etc/traefik
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/traefik"]
CMD ["--configFile=/etc/traefik/traefik.yml"]
