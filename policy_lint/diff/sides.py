"""Lint one side of a change: a revision written out into a private directory, linted from
there as `check` lints a repository (the settings and policy it holds, its suppression
comments), so that paths in the report are repository-relative on both sides."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from policy_lint import config
from policy_lint.engine import LintCache, Options, Report, discover, lint_paths
from policy_lint.inputs import InputError
from policy_lint.policy import catalog_and_policy
from policy_lint.refine import refine


@dataclass(frozen=True)
class Request:
    """What the user asked, the same for both sides."""

    policy: Path | None  # --policy (absolute), else each side's own settings decide
    dialect: str | None
    log: Any = None


def lintable(tree: Path, requested: tuple[str, ...]) -> list[str]:
    """The files a `check` of the tree would visit (repository-relative), limited to the
    requested paths (files or directories; none = all)."""
    files, _ = discover([tree])
    found = [path.relative_to(tree).as_posix() for path, _explicit in files]
    if not requested or "." in requested:
        return found
    wanted = [PurePosixPath(r) for r in requested]
    return [f for f in found if any(PurePosixPath(f) == w or w in PurePosixPath(f).parents for w in wanted)]


def policy_paths(tree: Path) -> set[str]:
    """The policies the tree's settings files name (repository-relative)."""
    named: set[str] = set()
    resolved_tree = tree.resolve()
    for name in config.SETTINGS_FILES:
        for settings_file in resolved_tree.rglob(name):
            try:
                found = config.discover(settings_file.parent)
            except InputError:  # a broken settings file is reported when the side is linted
                continue
            if found.policy and found.policy.is_relative_to(resolved_tree):
                named.add(found.policy.relative_to(resolved_tree).as_posix())
    return named


def lint_side(tree: Path, targets: list[str], request: Request, cache: LintCache | None) -> Report:
    """The report of `targets` in the repository written out at `tree` (linted with `tree` as the
    working directory)."""
    tree = tree.resolve()
    with contextlib.chdir(tree):
        cache_dir: dict[Path, config.Settings] = {}

        def settings_for(path: Path) -> config.Settings:
            directory = path.resolve() if path.is_dir() else path.resolve().parent
            if directory not in cache_dir:
                found = config.discover(directory)
                # Settings above the written-out tree are not the repository's.
                inside = found.source and Path(found.source).resolve().is_relative_to(tree)
                cache_dir[directory] = found if inside else config.Settings()
            return cache_dir[directory]

        here = settings_for(tree)
        catalog, policy = catalog_and_policy(request.policy or here.policy)
        report = lint_paths(
            [Path(t) for t in targets],
            catalog,
            policy,
            Options(
                root=here.root or tree,
                dialect=request.dialect or here.dialect,
                log=request.log,
                skip_undetected=True,
                cache=cache,
            ),
        )
        from policy_lint.network import attach

        attach(report, here.source, here.root or tree, catalog, policy)
        report = refine(report, settings_for, None)
    return replace(report, errors=[e.replace(str(tree) + "/", "") for e in report.errors])
