"""The kubernetes driver: an estate as manifests for a cluster with CloudNativePG and Traefik."""
