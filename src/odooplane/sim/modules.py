"""Modules: manifests, ``addons_path`` discovery and dependency resolution.

Mirrors ``odoo/modules/module.py`` (manifest defaults, ``adapt_version``),
``odoo/modules/graph.py`` (load order: by depth in the dependency graph, then
by name) and ``ir.module.module.button_install``/``button_upgrade`` (what an
``-i``/``-u`` marks, including auto-installed modules and installed modules
that depend on an upgraded one).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from odooplane.sim.catalogue import BY_NAME

_logger = logging.getLogger("odoo.modules.module")
MANIFEST_NAME = "__manifest__.py"
_VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+(?:\.[0-9]+)?$")


@dataclass(frozen=True)
class Manifest:
    """A module as Odoo sees it after ``load_manifest``."""

    name: str
    version: str  # adapted: "18.0.1.3"
    depends: tuple[str, ...]
    auto_install: bool | frozenset[str] = False
    installable: bool = True
    application: bool = False
    category: str = "Uncategorized"
    shortdesc: str = ""
    summary: str = ""
    author: str = "Odoo S.A."
    license: str = "LGPL-3"
    sequence: int = 100
    countries: tuple[str, ...] = ()
    path: str | None = None  # the module directory, for modules found on addons_path
    data: tuple[str, ...] = ()  # the manifest's data files, relative to ``path``, in load order

    @property
    def auto_install_triggers(self) -> frozenset[str] | None:
        """The dependencies that trigger auto-installation, or None if not auto-installable."""
        if self.auto_install is False:
            return None
        if self.auto_install is True:
            return frozenset(self.depends)
        return self.auto_install


def adapt_version(version: str, series: str) -> str:
    """Given a manifest version, return it prefixed with the series (``1.3`` -> ``18.0.1.3``).

    Raise ValueError when it is neither ``x.y``, ``x.y.z``, ``<series>.x.y`` nor ``<series>.x.y.z``.
    """
    if version == series or not version.startswith(series + "."):
        base_version = version
        version = f"{series}.{version}"
    else:
        base_version = version[len(series) + 1:]
    if not _VERSION_RE.match(base_version):
        raise ValueError(
            f"Invalid version {base_version!r}. Modules should have a version in format `x.y`, `x.y.z`,"
            f" `{series}.x.y` or `{series}.x.y.z`."
        )
    return version


def read_manifest(module_dir: str, series: str) -> Manifest:
    """Given a module directory containing ``__manifest__.py``, return its Manifest.

    Raise ValueError if the manifest is not a literal dict, or if an
    installable module has an invalid version.
    """
    import ast  # only modules found on addons_path have a manifest to read

    name = os.path.basename(os.path.normpath(module_dir))
    with open(os.path.join(module_dir, MANIFEST_NAME), encoding="utf-8") as handle:
        data = ast.literal_eval(handle.read())
    if not isinstance(data, dict):
        raise ValueError(f"Module {name}: manifest is not a dict")
    installable = bool(data.get("installable", True))
    try:
        version = adapt_version(str(data.get("version", "1.0")), series)
    except ValueError as exc:
        if installable:
            raise ValueError(f"Module {name}: invalid manifest") from exc
        version = f"{series}.{data.get('version', '1.0')}"
    depends = tuple(str(d) for d in data.get("depends", []))
    auto = data.get("auto_install", False)
    auto_install: bool | frozenset[str] = (
        frozenset(str(a) for a in auto) if isinstance(auto, list | tuple | set) else bool(auto))
    return Manifest(
        name=name,
        version=version,
        depends=depends,
        auto_install=auto_install,
        installable=installable,
        application=bool(data.get("application", False)),
        category=str(data.get("category", "Uncategorized")),
        shortdesc=str(data.get("name", name)),
        summary=str(data.get("summary", "")),
        author=str(data.get("author", "Odoo S.A.")),
        license=str(data.get("license") or "LGPL-3"),
        sequence=int(data.get("sequence", 100)),
        countries=tuple(str(c) for c in data.get("countries", [])),
        path=os.path.abspath(module_dir),
        data=tuple(str(f) for f in data.get("data", [])),
    )


def discover(addons_paths: Iterable[str], series: str) -> dict[str, Manifest]:
    """Return the modules found in ``addons_paths`` (any directory with a ``__manifest__.py``).

    The first path providing a module name wins, as with ``odoo.addons.__path__``.
    A module whose manifest cannot be read is logged and left out.
    """
    found: dict[str, Manifest] = {}
    for addons_path in addons_paths:
        try:
            names = sorted(os.listdir(addons_path))
        except OSError as exc:
            _logger.warning("addons path %s unreadable: %s", addons_path, exc)
            continue
        for name in names:
            module_dir = os.path.join(addons_path, name)
            if name in found or not os.path.isfile(os.path.join(module_dir, MANIFEST_NAME)):
                continue
            try:
                found[name] = read_manifest(module_dir, series)
            except (OSError, ValueError, SyntaxError) as exc:
                _logger.warning("module %s: cannot load manifest: %s", name, exc)
    return found


def catalogue(series: str, addons_paths: Iterable[str] = ()) -> dict[str, Manifest]:
    """Return every module known to the server: built-ins overridden by ``addons_paths`` ones."""
    modules: dict[str, Manifest] = {}
    for entry in BY_NAME.values():
        auto = entry.auto_install if isinstance(entry.auto_install, bool) else frozenset(entry.auto_install)
        modules[entry.name] = Manifest(
            name=entry.name,
            version=adapt_version(entry.version, series),
            depends=entry.depends,
            auto_install=auto,
            application=entry.application,
            category=entry.category,
            shortdesc=entry.shortdesc,
        )
    modules.update(discover(addons_paths, series))
    return dict(sorted(modules.items()))


def depths(names: Iterable[str], manifests: Mapping[str, Manifest]) -> dict[str, int]:
    """Return each module's depth in the dependency graph (``base`` is 0)."""
    result: dict[str, int] = {}

    def depth(name: str, trail: tuple[str, ...]) -> int:
        if name in result:
            return result[name]
        if name in trail:
            raise ValueError(f"circular dependency: {' -> '.join((*trail, name))}")
        deps = manifests[name].depends if name in manifests else ()
        value = 0 if not deps else 1 + max(depth(d, (*trail, name)) for d in deps)
        result[name] = value
        return value

    for name in names:
        depth(name, ())
    return result


def load_order(names: Iterable[str], manifests: Mapping[str, Manifest]) -> list[str]:
    """Return ``names`` in the order Odoo's Graph iterates them: by depth, then by name."""
    names = set(names)
    depth_of = depths(names, manifests)
    return sorted(names, key=lambda n: (depth_of[n], n))


def mark_install(
    requested: Iterable[str], states: Mapping[str, str], manifests: Mapping[str, Manifest]
) -> list[str]:
    """``button_install``: return the modules that become 'to install'.

    ``states`` maps every known module to its ir_module_module state.  The
    requested uninstalled modules and their uninstalled dependencies are
    marked, then, repeatedly, every uninstalled auto-installable module whose
    triggering dependencies are all installed or marked, one of them being
    marked now (country-specific modules are skipped: the company has no country).
    Raise ValueError if a module depends on a module that is not available.
    """
    current = dict(states)
    marked: list[str] = []

    def mark(name: str, trail: tuple[str, ...]) -> None:
        if name not in current or name not in manifests:
            raise ValueError(
                f"You try to install module {trail[-1]!r} that depends on module {name!r}.\n"
                "But the latter module is not available in your system."
            )
        if current[name] != "uninstalled" or name in trail:
            return
        for dep in manifests[name].depends:
            mark(dep, (*trail, name))
        if current[name] == "uninstalled":
            current[name] = "to install"
            marked.append(name)

    batch = [name for name in requested if current.get(name) == "uninstalled"]
    install_states = {"installed", "to install", "to upgrade"}
    while batch:
        for name in batch:
            mark(name, ())
        batch = []
        for name, manifest in manifests.items():
            triggers = manifest.auto_install_triggers
            if current.get(name) != "uninstalled" or triggers is None or manifest.countries:
                continue
            trigger_states = {current.get(dep, "unknown") for dep in triggers}
            if trigger_states <= install_states and "to install" in trigger_states:
                batch.append(name)
    return marked


def mark_upgrade(
    requested: Iterable[str], states: Mapping[str, str], manifests: Mapping[str, Manifest]
) -> list[str]:
    """``button_upgrade``: return the installed modules that become 'to upgrade'.

    Upgrading ``base`` upgrades every installed module; upgrading any module
    also upgrades the installed modules that depend on it.
    """
    todo = [name for name in requested if states.get(name) in ("installed", "to upgrade")]
    if "base" in todo:
        todo += [name for name, state in states.items() if state == "installed" and name not in todo]
    dependents: dict[str, list[str]] = {}
    for name, manifest in manifests.items():
        for dep in manifest.depends:
            dependents.setdefault(dep, []).append(name)
    index = 0
    while index < len(todo):
        for child in dependents.get(todo[index], []):
            if states.get(child) == "installed" and child not in todo:
                todo.append(child)
        index += 1
    return todo
