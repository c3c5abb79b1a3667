"""The monitor on real data: the test split as a new batch (no drift expected), then the same
examples shifted (brighter images, reviews and texts cut to five tokens, table numbers doubled).

    python bench/drift_check.py [--repo FOLDER]

Run after `dvc repro export`, inside the environment, in this checkout or in the project
folder given (e.g. one made by `python bench/clone.py FOLDER --repro export`). Prints each
run's verdict and its most drifted features, from `python -m stages.monitor`.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from clone import ROOT

sys.path.insert(0, str(ROOT))
from stages.lib import paths  # noqa: E402
from stages.lib.export import as_instances, raw_batch  # noqa: E402
from stages.lib.kinds import kind_of, read_raw  # noqa: E402
from stages.lib.splitting import read_split  # noqa: E402


def shifted(instances: list, kind: str) -> list:
    if kind == "pixels":
        images = np.asarray(instances, dtype=np.float64)
        return (images * 0.5 + images.max() * 0.5).tolist()  # brighter, with half the contrast
    if kind == "tokens":
        return [review[:5] for review in instances]
    if kind == "columns":  # every number doubled
        return [{k: v * 2 if isinstance(v, float) else v for k, v in row.items()} for row in instances]
    return [" ".join(text.split()[:5]) for text in instances]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="the project folder (default: this checkout)")
    repo = parser.parse_args().repo.resolve()
    if not (repo / paths.EXPORT_DIR / "signature.json").is_file():
        sys.exit(f"{repo / paths.EXPORT_DIR} holds no exported model: run `dvc repro export` there first")
    signature = json.loads((repo / paths.EXPORT_DIR / "signature.json").read_text())
    x, _ = read_raw(repo / paths.RAW_DIR)
    test = read_split(repo)["test"]
    test_x = kind_of(json.loads((repo / paths.RAW_MANIFEST).read_text())).take(x, test)
    fresh = as_instances(raw_batch(test_x, signature["input"]), signature["input"])
    kind = signature["input"]["name"]
    with tempfile.TemporaryDirectory() as folder:
        for name, instances in (("test split as is", fresh), ("test split shifted", shifted(fresh, kind))):
            batch, report = Path(folder) / "batch.json", Path(folder) / "drift.json"
            batch.write_text(json.dumps({"instances": instances}))
            report.unlink(missing_ok=True)
            result = subprocess.run([sys.executable, "-m", "stages.monitor", str(batch), "--output", str(report)],
                                    cwd=repo, capture_output=True, text=True)
            if not report.exists():
                sys.exit(f"python -m stages.monitor failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
            top = json.loads(report.read_text())["features"][:3]
            print(f"{name}: exit {result.returncode}, {len(instances)} examples; most drifted: "
                  + ", ".join(f"{r['feature']} {r['measure']} {r['value']:.3f}" for r in top))
            if result.returncode:
                print(f"  {result.stderr.strip()}")


if __name__ == "__main__":
    main()
