"""Settings from the repository: `.policy-lint.yaml` or `[tool.policy-lint]` in pyproject.toml.

Discovered upwards from each checked path; the nearest file wins (a `.policy-lint.yaml` beats a
pyproject.toml in the same directory); command-line flags win over both. Keys:

    policy: sample_policies/technology-enablement.yaml   # relative to the config file
    root: .                                              # likewise
    dialect: squid
    format: text | json | sarif | junit | github
    select: [TE1, TE9]        # code prefixes to report (default: all)
    extend-select: [TE202]
    ignore: [TE201]
    severity: {TE202: warning, TE903: error}
    baseline: .policy-lint-baseline.json
    exit-zero: false
    network: {segments: [...]}   # the network view: see policy_lint/network/segments.py
    ansible-extra-vars: {proxy_mode: strict}   # Ansible extra vars templates are rendered with
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from policy_lint.inputs import InputError
from policy_lint.records import FrozenRecord

YAML_NAME = ".policy-lint.yaml"
SETTINGS_FILES = (YAML_NAME, "pyproject.toml")  # where settings may live, nearest first
KEYS = {
    "policy",
    "root",
    "dialect",
    "format",
    "select",
    "extend-select",
    "ignore",
    "severity",
    "baseline",
    "exit-zero",
    "network",  # segments and their paths: read by policy_lint.network.segments (with lines)
    "ansible-extra-vars",  # extract/plays.py: the highest-precedence template variables
}
SEVERITY_NAMES = {"error", "warning", "info"}


@dataclass(frozen=True, eq=False, repr=False)
class Settings(FrozenRecord):
    source: str = ""  # the file they came from ("" = built-in defaults)
    policy: Path | None = None
    root: Path | None = None
    dialect: str | None = None
    format: str | None = None
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: dict[str, str] = field(default_factory=dict)
    baseline: Path | None = None
    exit_zero: bool = False
    ansible_extra_vars: dict[str, object] = field(default_factory=dict)


def _codes(value: object, key: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: {key} must be a list of code prefixes")
    return tuple(v.upper() for v in value)


def _from_mapping(data: object, where: str, base: Path) -> Settings:
    if data is None:
        return Settings(source=where)
    if not isinstance(data, dict):
        raise InputError(f"{where}: settings must be a mapping")
    unknown = set(data) - KEYS
    if unknown:
        raise InputError(
            f"{where}: unknown setting {sorted(unknown)[0]!r} (known: {', '.join(sorted(KEYS))})"
        )
    severity = data.get("severity") or {}
    if not isinstance(severity, dict) or not all(
        isinstance(k, str) and v in SEVERITY_NAMES for k, v in severity.items()
    ):
        raise InputError(f"{where}: severity must map codes to one of error, warning, info")

    def path(key: str) -> Path | None:
        v = data.get(key)
        if v is None:
            return None
        if not isinstance(v, str):
            raise InputError(f"{where}: {key} must be a path")
        resolved = (base / v).resolve()
        # Settings come from the repository being linted: they may name files in it, never a
        # file elsewhere on the machine (through `..` or a link).
        if not resolved.is_relative_to(_repository(base)):
            raise InputError(f"{where}: {key} {v!r} points outside the repository")
        return resolved

    for key in ("dialect", "format"):
        if key in data and not isinstance(data[key], str):
            raise InputError(f"{where}: {key} must be a string")
    if "exit-zero" in data and not isinstance(data["exit-zero"], bool):
        raise InputError(f"{where}: exit-zero must be true or false")
    extra_vars = data.get("ansible-extra-vars") or {}
    if not isinstance(extra_vars, dict) or not all(isinstance(k, str) for k in extra_vars):
        raise InputError(f"{where}: ansible-extra-vars must map variable names to values")
    return Settings(
        source=where,
        policy=path("policy"),
        root=path("root"),
        dialect=data.get("dialect"),
        format=data.get("format"),
        select=_codes(data["select"], "select", where) if "select" in data else None,
        extend_select=_codes(data.get("extend-select", []), "extend-select", where),
        ignore=_codes(data.get("ignore", []), "ignore", where),
        severity={k.upper(): v for k, v in severity.items()},
        baseline=path("baseline"),
        exit_zero=bool(data.get("exit-zero", False)),
        ansible_extra_vars=dict(extra_vars),
    )


def _repository(directory: Path) -> Path:
    """The git work tree holding `directory`, else the directory itself."""
    real = directory.resolve()
    for parent in [real, *real.parents]:
        if (parent / ".git").exists():
            return parent
    return real


def _read_yaml(path: Path) -> Settings:
    import yaml  # here, not at the top: most runs read no settings file (start-up time)

    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read settings: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"{path}{':' + str(mark.line + 1) if mark else ''}: invalid YAML") from None
    return _from_mapping(data, str(path), path.parent)


def _read_pyproject(path: Path) -> Settings | None:
    import tomllib  # only when a pyproject.toml is found

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: invalid TOML: {exc}") from None
    section = data.get("tool", {}).get("policy-lint")
    if section is None:
        return None
    return _from_mapping(section, f"{path} [tool.policy-lint]", path.parent)


def discover(start: Path) -> Settings:
    """The settings nearest to `start` (a file or directory), searching upwards."""
    here = start.resolve()
    if not here.is_dir():
        here = here.parent
    for directory in [here, *here.parents]:
        candidate = directory / YAML_NAME
        if candidate.is_file():
            return _read_yaml(candidate)
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            found = _read_pyproject(pyproject)
            if found is not None:
                return found
    return Settings()


STARTER_CONFIG = """\
# policy-lint settings (see the README's configuration reference).
policy: policy-lint-policy.yaml
# select: [TE1, TE2, TE9]      # code prefixes to report (default: all)
# ignore: [TE201]              # e.g. the informational hygiene findings
# severity: {TE202: warning}
# baseline: .policy-lint-baseline.json
"""

STARTER_POLICY = """\
# Technology Enablement: these services stay reachable for everyone.
version: 1
services:
  facebook: {severity: error}
  twitter: {severity: error}
  linkedin: {severity: error}
  ning: {severity: error}
# audiences:
#   guest-wifi: {networks: [10.50.0.0/16]}
# exceptions:
#   - {service: facebook, audience: guest-wifi, reason: "why", expires: 2027-06-30}
"""
