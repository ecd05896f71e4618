"""The policy registry: versioned prompt-policy artefacts and the ``current`` pointer.

    python -m policy_learning.registry show              # versions, the current one, its lineage
    python -m policy_learning.registry rollback          # current -> the version deployed before it
    python -m policy_learning.registry promote v3        # point current at an existing version
    python -m policy_learning.registry check current     # load and verify one (exit 1 if it can't be)

Layout (``models/policy_registry`` by default, ``POLICY_REGISTRY`` or ``--registry``)::

    current                  the deployed version's name ("v2"), replaced atomically
    pointer_log.jsonl        every change of the pointer (init / promote / rollback), appended
    versions/v2/manifest.json
    versions/v2/reward_model_<sha12>.txt   LightGBM text models of the learned components

A version is a prompt policy (the rule-based baseline, a reward-model argmax, or a mixture of
those: ``policy.components``) with: its feature schema (the state features it reads, checked
against the code at load), the digest and size of the logs it was trained on, the OPE report
that promoted it, its parent version and the exploration it must be deployed with. Model files
are text (no pickle) and carry a SHA-256 in the manifest; a file that is missing or changed, a
manifest that does not parse, or a feature schema the code no longer has make ``load`` raise
``ArtefactError`` naming the fix, so a damaged artefact is never loaded.

A version directory is written under a temporary name and renamed into place, and the pointer
is replaced with ``os.replace``: a reader sees the old version or the new one, never half of
one. ``lock()`` serialises writers (``make improve``): a second one waits up to ``timeout`` and
then refuses.

``v0`` is the rule-based policy, registered by ``init`` so that a refused first candidate
leaves a policy with a version to serve.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from prompt_policies.exploration import MODES

DEFAULT_ROOT = "models/policy_registry"
FORMAT = 1
CURRENT = "current"
DEFAULT_EXPLORATION = {"mode": "directed", "epsilon": 0.1}
# The rule-based v0 explores more: nothing learned is deployed yet, so its logs are the only
# support the first candidate gets (README, "Why 10% exploration" and "cold start"). The first
# promoted version and its descendants explore at ``after_promotion`` (DEFAULT_EXPLORATION).
COLD_START_EPSILON = 0.2


class ArtefactError(RuntimeError):
    """A policy artefact that must not be loaded (missing, damaged, or for other code)."""


class RegistryBusy(RuntimeError):
    """Another process holds the registry's lock."""


def default_root() -> Path:
    return Path(os.environ.get("POLICY_REGISTRY") or DEFAULT_ROOT)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def feature_schema() -> Dict[str, Any]:
    """The state features this code computes (``music_domain.dialogue_state``)."""
    from music_domain.dialogue_state import ALL_FEATURES, BASE_FEATURES

    names = list(ALL_FEATURES)
    return {"features": names, "base_features": len(BASE_FEATURES),
            "sha256": sha256_bytes("\n".join(names).encode())}


@dataclass
class Deployed:
    """A loaded version: the prompt policy, and the policy as deployed (with its exploration)."""
    version: str
    manifest: Dict[str, Any]
    policy: Any  # prompt_policies.PromptPolicy, without exploration
    exploration: Dict[str, Any]

    def with_exploration(self, epsilon: Optional[float] = None, mode: Optional[str] = None):
        """The policy with its exploration (or the one given): what is deployed and logged."""
        from prompt_policies import ExplorationPolicy

        eps = float(self.exploration.get("epsilon", 0.0) if epsilon is None else epsilon)
        mode = mode or self.exploration.get("mode", "epsilon_greedy")
        if eps <= 0:
            return self.policy
        return ExplorationPolicy(self.policy, eps, mode, float(self.exploration.get("temperature", 1.0)))

    @property
    def uses_history(self) -> bool:
        return bool(self.policy.uses_history)


class PolicyRegistry:
    def __init__(self, root=None):
        self.root = Path(root) if root is not None else default_root()

    # -- paths -------------------------------------------------------------------------
    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    def path(self, version: str) -> Path:
        return self.versions_dir / version

    def versions(self) -> List[str]:
        if not self.versions_dir.is_dir():
            return []
        names = [p.name for p in self.versions_dir.iterdir() if p.is_dir() and p.name.startswith("v")
                 and p.name[1:].isdigit()]
        return sorted(names, key=lambda v: int(v[1:]))

    def current(self) -> Optional[str]:
        try:
            name = (self.root / CURRENT).read_text(encoding="utf-8").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        return name or None

    def resolve(self, name: str = CURRENT) -> str:
        """A version name from ``current`` or ``vN``; ``ArtefactError`` if there is none."""
        name = str(name or CURRENT).strip()
        if name == CURRENT:
            cur = self.current()
            if cur is None:
                raise ArtefactError(f"the policy registry {self.root} has no current version; create it with "
                                    f"`python -m policy_learning.registry init` (./setup.sh does) or run `make improve`")
            name = cur
        if not self.path(name).is_dir():
            raise ArtefactError(f"policy version {name!r} is not in the registry {self.root} "
                                f"(versions: {', '.join(self.versions()) or 'none'}); "
                                f"see `python -m policy_learning.registry show`")
        return name

    # -- writing -----------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, timeout: float = 0.0) -> Iterator[None]:
        """An exclusive lock on the registry for a writer; waits up to ``timeout`` seconds,
        then raises ``RegistryBusy``."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as f:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise RegistryBusy(f"another process is changing the policy registry {self.root} "
                                           f"(e.g. a `make improve` in progress); try again when it has finished")
                    time.sleep(0.5)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def init(self, exploration: Optional[Dict[str, Any]] = None) -> str:
        """Register the rule-based policy as ``v0`` and make it current, if the registry is empty.
        ``exploration`` is what ``v0`` is deployed with (default: ``cold_start_exploration()``)."""
        if self.current() is not None:
            return self.current()
        if "v0" not in self.versions():
            self._write_version("v0", {"kind": "rule_based", "name": "rule_based"}, {}, parent=None,
                                exploration=exploration or cold_start_exploration(), training_logs=None,
                                ope_report=None, note="the rule-based baseline")
        self._set_pointer("v0", "init")
        return "v0"

    def publish(self, policy_spec: Dict[str, Any], models: Dict[str, str], parent: Optional[str],
                exploration: Dict[str, Any], training_logs: Optional[Dict[str, Any]],
                ope_report: Optional[Dict[str, Any]], note: str = "") -> str:
        """Write a new version (not yet current). ``policy_spec`` is the ``policy`` section of the
        manifest; ``models`` maps its component files to their text (``RewardModel.to_text``)."""
        existing = self.versions()
        version = f"v{int(existing[-1][1:]) + 1 if existing else 0}"
        self._write_version(version, policy_spec, models, parent, exploration, training_logs, ope_report, note)
        return version

    def _write_version(self, version, policy_spec, models, parent, exploration, training_logs, ope_report, note):
        _check_exploration(exploration)
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=self.versions_dir))
        try:
            for name, text in models.items():
                (tmp / name).write_text(text, encoding="utf-8")
            files = {name: sha256_bytes(text.encode("utf-8")) for name, text in models.items()}
            manifest = {"format": FORMAT, "version": version, "parent": parent,
                        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        "policy": policy_spec, "files": files, "feature_schema": feature_schema(),
                        "exploration": exploration, "training_logs": training_logs, "ope_report": ope_report,
                        "note": note}
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, default=_json_default),
                                               encoding="utf-8")
            os.rename(tmp, self.path(version))  # fails if the version exists: versions are immutable
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def promote(self, version: str) -> None:
        """Make an existing, loadable version current (atomically)."""
        self.load(version)  # never point at something that cannot be loaded
        self._set_pointer(version, "promote")

    def rollback(self) -> str:
        """Point ``current`` back at the version that was current before it; returns it."""
        cur = self.resolve(CURRENT)
        previous = None
        for entry in reversed(self.pointer_log()):
            if entry.get("to") == cur and entry.get("from"):
                previous = entry["from"]
                break
        previous = previous or self.manifest(cur).get("parent")
        if not previous:
            raise ArtefactError(f"{cur} has no earlier version to roll back to")
        self.load(previous)
        self._set_pointer(previous, "rollback")
        return previous

    def _set_pointer(self, version: str, action: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        before = self.current()
        tmp = self.root / f".{CURRENT}.{os.getpid()}"
        tmp.write_text(version + "\n", encoding="utf-8")
        os.replace(tmp, self.root / CURRENT)
        with open(self.root / "pointer_log.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps({"time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                "action": action, "from": before, "to": version}) + "\n")

    def pointer_log(self) -> List[Dict[str, Any]]:
        out = []
        try:
            lines = (self.root / "pointer_log.jsonl").read_text(encoding="utf-8").splitlines()
        except (FileNotFoundError, UnicodeDecodeError):
            return out
        for line in lines:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    # -- reading -----------------------------------------------------------------------
    def manifest(self, version: str = CURRENT) -> Dict[str, Any]:
        version = self.resolve(version)
        path = self.path(version) / "manifest.json"
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ArtefactError(f"{path} is missing: the artefact {version} is incomplete; "
                                f"roll back with `make rollback` or promote another version") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ArtefactError(f"{path} is damaged ({e.__class__.__name__}); roll back with `make rollback` "
                                f"or promote another version") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != version:
            raise ArtefactError(f"{path} is not a format-{FORMAT} manifest of {version}; roll back with "
                                f"`make rollback` or retrain with `make improve`")
        return manifest

    def files(self, version: str = CURRENT) -> Dict[str, bytes]:
        """The artefact's files (manifest and models), each checked against its digest."""
        version = self.resolve(version)
        manifest = self.manifest(version)
        out = {"manifest.json": (self.path(version) / "manifest.json").read_bytes()}
        for name, digest in (manifest.get("files") or {}).items():
            path = self.path(version) / name
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                raise ArtefactError(f"{path} is missing from the artefact {version}; roll back with "
                                    f"`make rollback` or retrain with `make improve`") from None
            if sha256_bytes(data) != digest:
                raise ArtefactError(f"{path} does not match its digest in the manifest (damaged or edited); "
                                    f"roll back with `make rollback` or retrain with `make improve`")
            out[name] = data
        return out

    def load(self, version: str = CURRENT) -> Deployed:
        version = self.resolve(version)
        return load_artefact(self.files(version), source=str(self.path(version)))

    def digest(self, version: str = CURRENT) -> str:
        """Changes whenever the artefact does (for Rasa's ``fingerprint_addon``)."""
        h = hashlib.sha256()
        for name, data in sorted(self.files(version).items()):
            h.update(name.encode())
            h.update(data)
        return h.hexdigest()


def load_artefact(files: Dict[str, bytes], source: str = "artefact") -> Deployed:
    """Build the policy from an artefact's files (from the registry, or from Rasa's model
    storage). Verifies the feature schema and every model file."""
    from music_domain.dialogue_state import feature_names
    from policy_learning.reward_model import RewardModel
    from prompt_policies import LearnedPromptPolicy, RuleBasedPromptPolicy
    from prompt_policies.mixture import MixturePolicy

    try:
        manifest = json.loads(files["manifest.json"].decode("utf-8"))
        version = str(manifest["version"])
        spec = manifest["policy"]
    except (KeyError, UnicodeDecodeError, json.JSONDecodeError, TypeError) as e:
        raise ArtefactError(f"{source}: the manifest is missing or damaged ({e.__class__.__name__}); "
                            f"roll back with `make rollback` or retrain with `make improve`") from None
    schema = manifest.get("feature_schema") or {}
    if schema.get("sha256") != feature_schema()["sha256"]:
        raise ArtefactError(f"{source}: policy {version} was trained on state features that this code no longer "
                            f"computes ({len(schema.get('features') or [])} features, schema "
                            f"{str(schema.get('sha256'))[:12]} vs {feature_schema()['sha256'][:12]}); retrain it "
                            f"on logs of the current code with `make improve`, or roll back with `make rollback`")
    for name, digest in (manifest.get("files") or {}).items():
        if name not in files or sha256_bytes(files[name]) != digest:
            raise ArtefactError(f"{source}: {name} is missing or does not match its digest; roll back with "
                                f"`make rollback` or retrain with `make improve`")

    def component(c: Dict[str, Any]):
        kind = c.get("kind")
        if kind == "rule_based":
            return RuleBasedPromptPolicy()
        if kind == "reward_model":
            with_history = bool(c.get("with_history"))
            try:
                model = RewardModel.from_text(feature_names(with_history), files[c["file"]].decode("utf-8"))
            except (KeyError, UnicodeDecodeError, ValueError) as e:
                raise ArtefactError(f"{source}: the reward model {c.get('file')} cannot be loaded ({e}); "
                                    f"retrain with `make improve` or roll back with `make rollback`") from None
            return LearnedPromptPolicy(model, with_history, version=version)
        raise ArtefactError(f"{source}: unknown policy component kind {kind!r}")

    try:
        if spec.get("kind") == "mixture":
            policy = MixturePolicy([(float(c["weight"]), component(c)) for c in spec["components"]],
                                   name=spec.get("name", "mixture"), version=version)
        else:
            policy = component(spec)
            policy.name = spec.get("name", policy.name)
    except (KeyError, TypeError, ValueError) as e:
        raise ArtefactError(f"{source}: the policy section of the manifest is invalid ({e}); retrain with "
                            f"`make improve` or roll back with `make rollback`") from None
    policy.version = version
    exploration = manifest.get("exploration") or {}
    try:
        _check_exploration(exploration)
    except ValueError as e:
        raise ArtefactError(f"{source}: {e}") from None
    return Deployed(version, manifest, policy, exploration)


def cold_start_exploration(mode: str = DEFAULT_EXPLORATION["mode"], epsilon: float = DEFAULT_EXPLORATION["epsilon"],
                           cold_start_epsilon: Optional[float] = COLD_START_EPSILON) -> Dict[str, Any]:
    """The exploration of the rule-based ``v0``: ``mode`` at ``cold_start_epsilon``, handing
    ``mode`` at ``epsilon`` on to the first version promoted from it (``after_promotion``);
    plain ``mode`` at ``epsilon`` when ``cold_start_epsilon`` is None or not above it (``v0``
    never explores less than the versions after it)."""
    later = {"mode": mode, "epsilon": float(epsilon)}
    if cold_start_epsilon is None or float(cold_start_epsilon) <= float(epsilon):
        return later
    return {"mode": mode, "epsilon": float(cold_start_epsilon), "after_promotion": later}


def successor_exploration(exploration: Dict[str, Any]) -> Dict[str, Any]:
    """The exploration a version promoted from one exploring with ``exploration`` is deployed
    with: its ``after_promotion`` when it has one (the cold-start ``v0``), else the same."""
    return dict(exploration.get("after_promotion") or exploration)


def _check_exploration(exploration: Dict[str, Any]) -> None:
    if not isinstance(exploration, dict):
        raise ValueError(f"exploration must be a mapping, got {exploration!r}")
    if "after_promotion" in exploration:
        after = exploration["after_promotion"]
        if not isinstance(after, dict) or not after:
            raise ValueError(f"exploration after_promotion must be a non-empty mapping, got {after!r}")
        _check_exploration(after)
    mode = exploration.get("mode", "epsilon_greedy")
    eps = exploration.get("epsilon", 0.0)
    if mode not in MODES:
        raise ValueError(f"unknown exploration mode {mode!r} (one of {', '.join(MODES)})")
    if not isinstance(eps, (int, float)) or not 0.0 <= float(eps) <= 1.0:
        raise ValueError(f"exploration epsilon must be in [0, 1], got {eps!r}")


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def describe(registry: PolicyRegistry) -> str:
    cur = registry.current()
    lines = [f"policy registry {registry.root}; current: {cur or 'none'}"]
    for v in registry.versions():
        try:
            m = registry.manifest(v)
            ope = m.get("ope_report") or {}
            lb = (ope.get("gate_lower_bound") or {}).get("lower_bound")
            ex = m.get("exploration") or {}
            lines.append(f"{'*' if v == cur else ' '} {v}: {m['policy'].get('name')} (parent {m.get('parent')}, "
                         f"exploration {ex.get('mode', 'epsilon_greedy')} {ex.get('epsilon')}"
                         + (f" (then {ex['after_promotion'].get('epsilon')})" if ex.get("after_promotion") else "")
                         + ", "
                         f"created {m.get('created')}"
                         + (f", promoted on lower bound {lb:.4f}" if isinstance(lb, (int, float)) else "") + ")")
        except ArtefactError as e:
            lines.append(f"  {v}: DAMAGED: {e}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--registry", default=None, help=f"registry folder (default $POLICY_REGISTRY or {DEFAULT_ROOT})")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("show")
    i = sub.add_parser("init")
    i.add_argument("--epsilon", type=float, default=DEFAULT_EXPLORATION["epsilon"],
                   help="the exploration rate of promoted versions")
    i.add_argument("--cold-start-epsilon", type=float, default=COLD_START_EPSILON,
                   help="the exploration rate of the rule-based v0 (at least --epsilon), which hands --epsilon "
                        "on to the first version promoted from it")
    i.add_argument("--exploration", default=DEFAULT_EXPLORATION["mode"], choices=MODES,
                   help="how the versions explore (prompt_policies.exploration); an existing registry keeps "
                        "its versions' exploration: each promotion inherits its parent's, v0's hand-over aside")
    sub.add_parser("rollback")
    pr = sub.add_parser("promote")
    pr.add_argument("version")
    c = sub.add_parser("check")
    c.add_argument("version", nargs="?", default=CURRENT)
    a = p.parse_args(argv)
    reg = PolicyRegistry(a.registry)
    try:
        if a.command == "show":
            print(describe(reg))
        elif a.command == "init":
            with reg.lock(timeout=60):
                v = reg.init(cold_start_exploration(a.exploration, a.epsilon, a.cold_start_epsilon))
            print(f"policy registry {reg.root}: current is {v}")
        elif a.command == "rollback":
            with reg.lock(timeout=60):
                before = reg.current()
                v = reg.rollback()
            print(f"rolled back {before} -> {v}; deploy it with `make train` and a reload (`make deploy`)")
        elif a.command == "promote":
            with reg.lock(timeout=60):
                reg.promote(a.version)
            print(f"current is now {a.version}")
        elif a.command == "check":
            d = reg.load(a.version)
            print(f"{d.version}: {d.policy.name}, exploration {d.exploration}; loads and matches this code")
    except (ArtefactError, RegistryBusy) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
