"""The Docker Compose driver: an estate as one Compose project on a Docker Engine."""
