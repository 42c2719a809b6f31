"""Configs where they live: inside templates, infrastructure code, documents and scripts.

A dialect reads a file that is wholly one config. In real repositories the config is often
inside something else: a fenced block of a runbook, a here-document a provisioning script
writes to /etc/squid/squid.conf, a Terraform heredoc, a NixOS option, an Ansible template, a
Python script that sends commands to a router. One small module per kind of container finds
those configs and yields each as an `Embedded` (its text, its dialect when the container says
it, and the container line of each of its lines):

    markdown   Markdown fences and reStructuredText literal blocks (the language tag, or detection)
    shell      heredocs and echo/printf written to config paths, nft/pfctl commands (run as the
               script would run them, through the iptables dialect's shell model)
    terraform  heredoc strings and templatefile() with literal variables (semantics/terraform)
    nix        NixOS options holding configs (services.squid.extraConfig, networking.firewall.
               extraCommands, services.dnsmasq.settings ...); `enable = false` makes them inert
    ansible    Jinja2 templates rendered with the role's and inventory's variables (sandboxed),
               and tasks of lineinfile/blockinfile/copy content/iptables/ufw
    python     literal command lists sent to devices (Netmiko/Paramiko) and literal lines
               written to hosts/firewall files (read with `ast`, never run)

Each embedded config is then linted by its dialect as a file of its own (extract/virtual.py)
and every finding points at the container's file and line. Values a template leaves open are
symbolic (extract/symbolic.py). Nothing from the repository is ever executed.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from policy_lint.dialects.semantics.base import ParseContext, Ruleset
from policy_lint.extract.model import Embedded, Extraction
from policy_lint.inputs import read_source
from policy_lint.model import Finding, ServiceResult, Severity, Verdict

__all__ = ["CONTAINERS", "Embedded", "Extraction", "container_for", "extract", "lint_extraction"]

# Order matters only where two could claim a file; each claims by its own name/content test.
# Next to each, the file-name endings (and whether a `#!` first line) without which its
# `claims` is always false: a file that none of them fits (a squid.conf, a block list) does not
# import the containers and the regexes they compile (~10 ms of every run's start). Each
# module's own suffix constants are held to these by tests/extract/test_containers.py.
_CONTAINERS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("markdown", (".md", ".markdown", ".mdown", ".rst"), False),
    ("terraform", (".tf",), False),
    ("nix", (".nix",), False),
    ("ansible", (".j2", ".jinja2", ".jinja", ".yml", ".yaml"), False),
    ("python", (".py",), False),
    ("shell", (".sh", ".bash", ".ksh", ".zsh"), True),
)


def _container(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name}")


def __getattr__(name: str) -> Any:
    if name == "CONTAINERS":  # every container module, imported on first use
        return tuple(_container(n) for n, _s, _b in _CONTAINERS)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def container_for(path: Path, head: str) -> ModuleType | None:
    lower = path.name.lower()
    shebang = head.startswith("#!")
    for name, suffixes, by_shebang in _CONTAINERS:
        if not lower.endswith(suffixes) and not (by_shebang and shebang):
            continue
        module = _container(name)
        if module.claims(path, head):
            return module
    return None


def extract(path: Path, head: str, context: ParseContext) -> Extraction | None:
    """The configs `path` holds when it is a container, else None. Raises InputError as
    read_source does (binary, too large)."""
    module = container_for(path, head)
    if module is None:
        return None
    source = read_source(path, context.resolver.display(path))
    extraction: Extraction = module.extract(path, source, context)
    extraction.kind = module.__name__.rsplit(".", 1)[-1]
    return extraction


def lint_extraction(
    extraction: Extraction,
    path: Path,
    context: ParseContext,
    lint: Callable[[Ruleset, bool], Any],
) -> tuple[list[Any], list[tuple[str, str]]]:
    """(FileReports of the embedded configs, (where, why) of those not linted)."""
    from policy_lint.extract.virtual import lint_piece

    reports: list[Any] = []
    skipped: list[tuple[str, str]] = []
    for piece in extraction.pieces:
        where = f"{piece.origin}:{piece.line_map[0] if piece.line_map else 1}"
        if not piece.lines:
            extraction.unread += piece.problems
            continue
        done = lint_piece(piece, context, path, lint)
        if done is not None and piece.inert:
            reports.append(_inert(done[0], piece.inert))
        elif done is not None:
            reports.append(done[0])
        elif piece.dialect is None:
            pass  # a fence of Python, a systemd unit a script writes: not a config we read
        else:
            skipped.append((where, f"{piece.label}: no {piece.dialect} dialect"))
    return reports, skipped


def _inert(report: Any, why: str) -> Any:
    """A config that is not in effect: every service unaffected by it; what it would block is
    said (TE202, as for an unused definition), not reported as a block."""
    findings = [
        Finding("TE202", Severity.INFO, f.span, f"{f.message}; but {why}: no effect", f.service, (), f.trace)
        for f in report.findings
        if f.code.startswith("TE1")
    ]
    services = {sid: ServiceResult(Verdict.UNAFFECTED) for sid in report.services}
    return dataclasses.replace(report, services=services, findings=findings, unread="")
