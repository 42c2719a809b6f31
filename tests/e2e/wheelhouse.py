"""A local wheelhouse for installing policy-lint without the package index.

`build_wheelhouse(dest)` writes into `dest`:

- a wheel of every distribution policy-lint needs at run time (its `dependencies`, recursively,
  extras and markers evaluated for this interpreter), repacked from what is installed in the
  running environment: the files its RECORD lists under site-packages, its dist-info (with the
  WHEEL file pip wrote, so the platform tags are the ones the original wheel had) and a new
  RECORD. Console scripts are left out: pip writes them again from entry_points.txt;
- the setuptools wheel that virtualenv carries (policy-lint's build backend, `setuptools>=68`,
  for pip's isolated build of the project itself).

With PIP_NO_INDEX=1 and PIP_FIND_LINKS=dest, `pip install .` in a fresh virtualenv of the same
Python then installs policy-lint from its source tree without any network: nothing is
downloaded, and the result is what the test environment runs.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as md
import re
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import parse_tag, sys_tags
from packaging.utils import canonicalize_name


def runtime_closure(project: str) -> list[md.Distribution]:
    """The installed distributions `project` needs at run time (not itself), in a stable order."""
    seen: dict[str, md.Distribution] = {}
    todo = [Requirement(r) for r in md.distribution(project).requires or []]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        dist = md.distribution(req.name)
        seen[name] = dist
        todo.extend(Requirement(r) for r in dist.requires or [])
    return [seen[k] for k in sorted(seen)]


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def repack(dist: md.Distribution, dest: Path) -> Path:
    """One installed distribution as a wheel file in `dest`."""
    wheel_meta = dist.read_text("WHEEL")
    if not wheel_meta:
        raise RuntimeError(f"{dist.metadata['Name']} was not installed from a wheel (no WHEEL file)")
    tags = [line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")]
    # The file name carries one tag this interpreter supports (defusedxml's first is py2-none-any).
    # A Tag line may itself be a compressed tag set (adblock's maturin writes one).
    supported = set(sys_tags())
    tag = next((t for t in tags if parse_tag(t) & supported), None)
    if tag is None:
        raise RuntimeError(f"{dist.metadata['Name']}: none of its wheel tags {tags} fits this Python")
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    version = dist.version
    out = dest / f"{name}-{version}-{tag}.whl"
    files = dist.files or []
    dist_info = next(
        (f.parts[0] for f in files if len(f.parts) > 1 and f.parts[0].endswith(".dist-info")), None
    )
    if dist_info is None:
        raise RuntimeError(f"{dist.metadata['Name']}: no .dist-info in its RECORD")
    skip = {f"{dist_info}/{n}" for n in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")}
    record = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as whl:
        for f in files:
            arcname = f.as_posix()
            if arcname.startswith("../") or arcname in skip or "__pycache__" in f.parts:
                continue
            data = Path(str(f.locate())).read_bytes()
            whl.writestr(arcname, data)
            record.append(_record_line(arcname, data))
        record.append(f"{dist_info}/RECORD,,")
        whl.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return out


def setuptools_wheel() -> Path:
    """The newest setuptools wheel virtualenv carries (virtualenv is a dependency of pre-commit)."""
    import virtualenv.seed.wheels.embed as embed

    found = sorted(
        Path(embed.__file__).parent.glob("setuptools-*.whl"),
        key=lambda p: tuple(int(x) for x in re.findall(r"\d+", p.name.split("-")[1])),
    )
    if not found:
        raise RuntimeError("virtualenv carries no setuptools wheel")
    return found[-1]


def build_wheelhouse(dest: Path, project: str = "policy-lint") -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    wheels = [repack(d, dest) for d in runtime_closure(project)]
    setuptools = setuptools_wheel()
    target = dest / setuptools.name
    target.write_bytes(setuptools.read_bytes())
    return [*wheels, target]
