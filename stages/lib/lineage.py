"""Lineage: the chain of stages from the raw data to an artifact as dvc.lock recorded it, checked
against the files in the workspace."""
import hashlib
import json
from pathlib import Path
from typing import Optional

import yaml

from stages.lib import environment
from stages.lib.errors import PipelineError
from stages.lib.params import PARAMS_FILE, load_params

LOCK_FILE = "dvc.lock"
CACHE_DIR = ".dvc/cache/files/md5"
# The files that say what made an artifact: the commit an audit names must hold them as they are.
PIPELINE_FILES = (LOCK_FILE, "dvc.yaml", PARAMS_FILE)
MANIFEST_KEYS = ("dataset", "kind", "problem", "source", "sha256", "file", "file_sha256", "examples",
                 "published_file")


def load_lock(path=LOCK_FILE) -> dict:
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path} is missing: run `dvc repro` first, it records what each stage ran with")
    return yaml.safe_load(path.read_text()).get("stages", {})


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def producer(path: str, lock: dict) -> Optional[str]:
    """The stage whose outputs include `path` (the output itself or a file inside an output folder)."""
    for name, stage in lock.items():
        if any(_inside(path, out["path"]) for out in stage.get("outs", [])):
            return name
    return None


def resolve_target(target: str, lock: dict) -> str:
    """The stage that made `target`: a stage name, an output path, or a file inside an output folder."""
    if target in lock:
        return target
    path = Path(target).as_posix().rstrip("/")
    name = producer(path, lock)
    if name is None:
        raise PipelineError(f"{target!r} is neither a stage nor an output in {LOCK_FILE}: give an output such as "
                            f"models/regularized or a stage name ({', '.join(list(lock)[:9])}, ...)")
    return name


def upstream(name: str, lock: dict) -> list:
    """`name` and every stage it depends on, in the order they ran (raw data first)."""
    ordered = []

    def visit(stage: str) -> None:
        if stage in ordered:
            return
        for dep in lock[stage].get("deps", []):
            source = producer(dep["path"], lock)
            if source and source != stage:
                visit(source)
        ordered.append(stage)

    visit(name)
    return ordered


def stage_record(name: str, lock: dict) -> dict:
    stage = lock[name]
    deps = [{"path": dep["path"], "md5": dep.get("md5"), "size": dep.get("size"),
             "produced_by": producer(dep["path"], lock)} for dep in stage.get("deps", [])]
    outs = [{"path": out["path"], "md5": out.get("md5"), "size": out.get("size")} for out in stage.get("outs", [])]
    return {"stage": name, "cmd": stage["cmd"], "params": recorded_params(stage), "deps": deps, "outs": outs}


def recorded_params(stage: dict, file: Optional[str] = None) -> dict:
    """The params values a stage ran with (of one params file, or of all), flattened."""
    params = {}
    for name, values in stage.get("params", {}).items():
        if file is None or name == file:
            params.update(environment.flatten(values))
    return params


def file_md5(path: Path) -> Optional[str]:
    """DVC's md5 of a file (of its bytes, as dvc.lock's `hash: md5` records), None when missing."""
    if not path.is_file():
        return None
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_differences(folder: str, listing: list, root: Path) -> list:
    """Files of `folder` that differ from DVC's listing of it: (relative path, status, recorded, current)."""
    recorded = {entry["relpath"]: entry["md5"] for entry in listing}
    present = {p.relative_to(root / folder).as_posix() for p in (root / folder).rglob("*") if p.is_file()}
    differences = []
    for relpath in sorted(recorded.keys() | present):
        current = file_md5(root / folder / relpath) if relpath in present else None
        if relpath not in present:
            differences.append((relpath, "deleted", recorded[relpath], None))
        elif relpath not in recorded:
            differences.append((relpath, "added", None, current))
        elif current != recorded[relpath]:
            differences.append((relpath, "modified", recorded[relpath], current))
    return differences


def _folder_listing(md5: str, root: Path) -> Optional[list]:
    listing = root / CACHE_DIR / md5[:2] / md5[2:]
    return json.loads(listing.read_text()) if listing.exists() else None


def path_problems(stage: str, role: str, entry: dict, status: str, root: Path) -> list:
    """One problem per file of a changed dependency or output, named down to files inside folders."""
    path, md5 = entry["path"], entry.get("md5") or ""
    base = {"stage": stage, "role": role}
    if md5.endswith(".dir") and (root / path).is_dir():
        listing = _folder_listing(md5, root)
        if listing is not None:
            return [{**base, "path": f"{path}/{relpath}", "status": change, "recorded": recorded, "current": current}
                    for relpath, change, recorded, current in folder_differences(path, listing, root)]
    current = None if md5.endswith(".dir") else file_md5(root / path)
    return [{**base, "path": path, "status": status, "recorded": md5 or None, "current": current}]


def workspace_differences(chain: list, lock: dict, root: Path = Path(".")) -> dict:
    """The chain's recorded dependencies and outputs checked against the workspace by hashing the files as
    DVC does, without calling DVC: a stage cannot, since `dvc repro` holds the repository's lock while it runs.

    Returns {"checked": paths compared, "differ": files whose md5 differs (named down to files inside
    folders), "unchecked": folders whose listing is not in the local cache}."""
    checked, differ, unchecked = [], [], []
    for name in chain:
        for entry in lock[name].get("deps", []) + lock[name].get("outs", []):
            path, md5 = entry["path"], entry.get("md5") or ""
            if path in checked or path in unchecked:
                continue
            if md5.endswith(".dir"):
                listing = _folder_listing(md5, root)
                if listing is None:
                    unchecked.append(path)
                    continue
                differ += [f"{path}/{relpath}" for relpath, *_ in folder_differences(path, listing, root)]
            elif file_md5(root / path) != md5:
                differ.append(path)
            checked.append(path)
    return {"checked": checked, "differ": differ, "unchecked": unchecked}


def verification_problems(status: dict, lock: dict, chain: list, root: Path) -> list:
    """Turn `dvc status --json` for the chain's stages into problems that name files and params.

    role "output": a file a stage wrote was changed outside the pipeline (or is missing);
    role "dependency", "params" or "command": the stage's inputs changed since it ran, so it is stale.
    """
    current_params = None
    problems = []
    for name in chain:
        stage = lock[name]
        for change in status.get(name, []):
            if isinstance(change, str):  # e.g. "changed command"
                problems.append({"stage": name, "role": "command", "path": None, "status": change,
                                 "recorded": stage["cmd"], "current": None})
                continue
            for kind, paths in change.items():
                role = "output" if kind == "changed outs" else "dependency"
                entries = {e["path"]: e for e in stage.get("outs" if role == "output" else "deps", [])}
                for path, what in paths.items():
                    if isinstance(what, dict):  # params: {key: modified|new|deleted}
                        if current_params is None:
                            current_params = environment.flatten(yaml.safe_load((root / path).read_text()) or {})
                        recorded = recorded_params(stage, path)
                        problems += [{"stage": name, "role": "params", "path": f"{path}:{key}", "status": state,
                                      "recorded": _lookup(recorded, key), "current": _lookup(current_params, key)}
                                     for key, state in what.items()]
                    else:
                        problems += path_problems(name, role, entries.get(path, {"path": path}), what, root)
    outputs = {p["path"] for p in problems if p["role"] == "output"}
    return [p for p in problems if p["role"] == "output" or p["path"] not in outputs]


def _lookup(flat: dict, key: str):
    """A params value by dotted key; a whole section when the key names one."""
    if key in flat:
        return flat[key]
    section = {k[len(key) + 1:]: v for k, v in flat.items() if k.startswith(key + ".")}
    return section or None


def raw_data(root: Path, manifest_path: str) -> Optional[dict]:
    path = root / manifest_path
    if not path.exists():
        return None
    manifest = json.loads(path.read_text())
    return {key: manifest[key] for key in MANIFEST_KEYS if key in manifest}


def _short(value) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def render(audit: dict) -> str:
    """The audit for people: the chain from raw data to the artifact, then the verification."""
    git = audit["git"]
    head = git["head"]
    lines = [f"Lineage of {audit['target']} (stage {audit['stage']}), as recorded in {LOCK_FILE}",
             f"git: HEAD {head['short']} \"{head['subject']}\" ({head['date']})" if head else "git: no commit yet",
             f"     {LOCK_FILE} last committed in {git['lock_commit'][:7] if git['lock_commit'] else 'none'}; "
             f"uncommitted: {', '.join(git['uncommitted']) or 'nothing'}"]
    raw = audit["raw_data"]
    if raw:
        lines += ["", f"Raw data: {raw.get('dataset')} ({raw.get('kind')}, {raw.get('problem')}), "
                      f"{raw.get('examples')} examples",
                  f"  source: {raw.get('source')}", f"  content sha256: {raw.get('sha256')}"]
        if raw.get("file"):
            lines.append(f"  file: {raw['file']} sha256 {raw.get('file_sha256')}")
        if raw.get("published_file"):
            lines.append(f"  published file: {raw['published_file']['url']} sha256 {raw['published_file']['sha256']}")
    for number, stage in enumerate(audit["stages"], 1):
        lines += ["", f"{number}. {stage['stage']}: {stage['cmd']}"]
        for index, (key, value) in enumerate(stage["params"].items()):
            lines.append(f"   {'params' if index == 0 else '':6} {key}={_short(value)}")
        for label, items in (("deps", stage["deps"]), ("outs", stage["outs"])):
            for index, item in enumerate(items):
                origin = f"  (from {item['produced_by']})" if item.get("produced_by") else ""
                lines.append(f"   {label if index == 0 else '':6} {item['md5']}  {item['path']}{origin}")
    if audit.get("environment"):
        lines += [""] + render_environment(audit["environment"])
    lines.append("")
    problems = audit["problems"]
    if not problems:
        mismatch = commit_mismatch(audit)
        if mismatch:
            lines.append(f"NOT verified: {mismatch}.")
        else:
            allowed = git["pipeline_uncommitted"]
            lines.append(f"Verified: every dependency and output above matches {LOCK_FILE}." +
                         (f" Not committed (--allow-uncommitted): {', '.join(allowed)}." if allowed else ""))
        return "\n".join(lines)
    tampered = [p for p in problems if p["role"] == "output"]
    stale = _merge_stages([p for p in problems if p["role"] != "output"])
    lines.append(f"NOT verified: {differing(problems)} file(s) or param(s) differ from {LOCK_FILE}.")
    if tampered:
        lines.append("Outputs changed outside the pipeline:")
        lines += [f"  {p['status']:8} {p['path']}  (output of {p['stage']}; dvc.lock md5 {p['recorded']}, "
                  f"workspace md5 {p['current']})" for p in tampered]
    if stale:
        lines.append("Inputs changed since the stage ran (`dvc repro` brings the outputs up to date):")
        for p in stale:
            if p["role"] == "params":
                detail = f"ran with {_short(p['recorded'])}, now {_short(p['current'])}"
            elif p["role"] == "command":
                detail = f"recorded command: {p['recorded']}"
            else:
                detail = f"dvc.lock md5 {p['recorded']}, workspace md5 {p['current']}"
            lines.append(f"  {p['status']:8} {p['path'] or 'command'}  ({', '.join(p['stages'])}; {detail})")
    return "\n".join(lines)


def commit_mismatch(audit: dict) -> Optional[str]:
    """Why the commit the audit names does not record the artifact's lineage: its pipeline files differ."""
    files = audit["git"]["pipeline_uncommitted"]
    if not files or audit["allow_uncommitted"]:
        return None
    head = audit["git"]["head"]
    commit = f"commit {head['short']}" if head else "any commit (there is none yet)"
    return (f"{', '.join(files)} differ{'s' if len(files) == 1 else ''} from {commit}, so it does not record what made "
            f"{audit['target']}: commit {'it' if len(files) == 1 else 'them'} (`git add {' '.join(files)} && git commit`), "
            "or pass --allow-uncommitted to audit the workspace as it is")


def differing(problems: list) -> int:
    return len({p["path"] or p["stage"] for p in problems})


def _merge_stages(problems: list) -> list:
    """One line per changed input, naming every stage it affects."""
    merged = {}
    for p in problems:
        key = (p["role"], p["path"], p["status"], json.dumps(p["recorded"]), json.dumps(p["current"]),
               p["stage"] if p["role"] == "command" else None)
        merged.setdefault(key, {**p, "stages": []})["stages"].append(p["stage"])
    return list(merged.values())

def audit(target: str, root: Path = Path("."), allow_uncommitted: bool = False) -> dict:
    """The lineage of `target` back to the raw data, with every difference between workspace and dvc.lock.

    Verified also needs dvc.lock, dvc.yaml and params.yaml as HEAD has them, unless `allow_uncommitted`.
    """
    from stages.lib import paths, vcs

    vcs.require_repository()
    lock = load_lock(root / LOCK_FILE)
    stage = resolve_target(target, lock)
    chain = upstream(stage, lock)
    load_params(root / PARAMS_FILE)  # DVC skips stages whose params did not change: an unknown key shows here
    status = vcs.dvc_json("status", *chain)
    has_commits = bool(vcs.git("rev-list", "-n", "1", "--all"))
    problems = verification_problems(status, lock, chain, root)
    pipeline_uncommitted = [name for name in PIPELINE_FILES if vcs.uncommitted(name)]
    return {
        "target": target,
        "stage": stage,
        "verified": not problems and (allow_uncommitted or not pipeline_uncommitted),
        "allow_uncommitted": allow_uncommitted,
        "git": {"head": vcs.describe_commit("HEAD") if has_commits else None,
                "lock_commit": vcs.git("log", "-1", "--format=%H", "--", LOCK_FILE) if has_commits else None,
                "uncommitted": vcs.uncommitted(LOCK_FILE, PARAMS_FILE, "dvc.yaml", "stages"),
                "pipeline_uncommitted": pipeline_uncommitted},
        "raw_data": raw_data(root, paths.RAW_MANIFEST) if paths.RAW_DIR in _outputs(chain, lock) else None,
        "stages": [stage_record(name, lock) for name in chain],
        "problems": problems,
        "environment": producing_machines(chain, root),
    }


def _outputs(chain: list, lock: dict) -> set:
    return {out["path"] for name in chain for out in lock[name].get("outs", [])}


def producing_machines(chain: list, root: Path = Path(".")) -> dict:
    """The recorded machines that ran the chain's stages, this machine, and the keys in which they differ."""
    from stages.lib import paths

    recorded = environment.load(root / paths.ENVIRONMENT)
    stages = {name: recorded["stages"][name] for name in chain
              if recorded["stages"].get(name) in recorded["machines"]}
    machines = {key: recorded["machines"][key] for key in dict.fromkeys(stages.values())}
    current = environment.describe()
    differs = [environment.differences(machine, current) for machine in machines.values()]
    return {"stages": stages, "machines": machines, "current": current,
            "differs": list(dict.fromkeys(key for keys in differs for key in keys))}


def render_environment(machines: dict) -> list:
    """One line per machine that ran stages of the lineage: what it was and whether this machine differs."""
    from stages.lib import paths

    if not machines["machines"]:
        return [f"environment: no stage of this lineage recorded its machine in {paths.ENVIRONMENT}"]
    lines = []
    for key, machine in machines["machines"].items():
        stages = [name for name, used in machines["stages"].items() if used == key]
        differs = environment.differences(machine, machines["current"])
        verdict = (f"differs in {', '.join(differs)}: float results may differ within the metrics' intervals"
                   if differs else "is the same")
        lines.append(f"environment: {', '.join(stages)} produced on {environment.summary(machine)}; "
                     f"this machine {verdict}")
    return lines
