"""dvc.yaml must declare what the stages really read and write, or caching lies."""
import ast
from pathlib import Path

import yaml

from stages.lib import paths
from tests.conftest import ROOT


def expanded_stages() -> dict:
    """dvc.yaml's stages, a `foreach` stage expanded into one stage per item (name@item)."""
    stages = {}
    for name, stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].items():
        if "foreach" not in stage:
            stages[name] = stage
            continue
        template = yaml.safe_dump(stage["do"])
        for item in stage["foreach"]:
            stages[f"{name}@{item}"] = yaml.safe_load(template.replace("${item}", item))
    return stages


PIPELINE = expanded_stages()


def has_code(path: Path) -> bool:
    """Whether a file holds more than a docstring (a package's __init__.py often holds nothing else)."""
    body = ast.parse(path.read_text()).body
    return any(not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) for node in body)


def project_imports(module_file: Path) -> set:
    """Every stages.* module file that `module_file` imports, transitively."""
    found, todo = set(), [module_file]
    while todo:
        tree = ast.parse(todo.pop().read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stages"):
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names if alias.name.startswith("stages")]
            for name in names:
                module = ROOT / name.replace(".", "/")
                for candidate in (module.with_suffix(".py"), module / "__init__.py"):  # a module or a package
                    if candidate.exists() and candidate not in found and has_code(candidate):
                        found.add(candidate)
                        todo.append(candidate)
    return {str(path.relative_to(ROOT)) for path in found}


def declared(stage: dict, kind: str) -> set:
    return {next(iter(item)) if isinstance(item, dict) else item for item in stage.get(kind, [])}


def test_every_stage_declares_the_code_it_runs():
    for name, stage in PIPELINE.items():
        module_name, _, item = name.partition("@")
        module = ROOT / "stages" / f"{module_name}.py"
        assert stage["cmd"] == f"python -m stages.{module_name}" + (f" {item}" if item else "")
        needed = project_imports(module) | {f"stages/{module_name}.py"}
        deps = declared(stage, "deps")
        missing = {path for path in needed if not any(path == dep or path.startswith(dep + "/") for dep in deps)}
        assert not missing, f"{name} misses deps {missing}"


def test_no_stage_declares_code_it_does_not_run():
    """An edit to a module a stage does not import must not re-run that stage."""
    for name, stage in PIPELINE.items():
        module_name = name.partition("@")[0]
        needed = project_imports(ROOT / "stages" / f"{module_name}.py") | {f"stages/{module_name}.py"}
        code = {dep for dep in declared(stage, "deps")  # modules and packages; templates are read, not imported
                if dep.startswith("stages/") and (dep.endswith(".py") or "." not in Path(dep).name)}
        unused = {dep for dep in code if not any(path == dep or path.startswith(dep + "/") for path in needed)}
        assert not unused, f"{name} declares deps it does not import: {unused}"


def test_every_artifact_path_is_declared():
    everything = set()
    for stage in PIPELINE.values():
        for kind in ("deps", "outs", "metrics", "plots"):
            everything |= declared(stage, kind)
    for constant, value in vars(paths).items():
        # ENVIRONMENT is written by several stages (DVC allows one producer per output) and committed to git.
        if constant.isupper() and not constant.startswith("_") and constant != "ENVIRONMENT":
            assert any(value == p or value.startswith(p + "/") for p in everything), f"{constant}={value} undeclared"
