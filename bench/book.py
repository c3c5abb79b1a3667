"""Chapter 5's studies at the book's set-up on the real MNIST, several seeds per variant, next to the
numbers the book prints; writes reports/book/mnist.md.

    python bench/book.py [--data-dir ../shared/data/mnist] [--seeds 3] [--studies NAME ...] [--output FILE]

The book's set-up: the 60,000 training images scaled to [0, 1], the last 12,000 of them held out for
validation (what Keras' validation_split=0.2 does), and the model and training of params.yaml's
studies.mnist (Dense(512), RMSprop 1e-3, batch 128, 10 epochs). The data come through the pipeline's
own loader, so the files' checksums are checked. Every variant trains once per seed; a claim holds
when it held with every seed, and each number is the mean and standard deviation over the seeds.
The real IMDB cannot be had on these machines, so its studies are not run here.
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stages.lib.datasets import DATASETS, load_dataset  # noqa: E402
from stages.lib.errors import PipelineError  # noqa: E402
from stages.lib.params import load_params  # noqa: E402
from stages.lib.studies import define_studies, run_study  # noqa: E402
from stages.lib.task import define_task  # noqa: E402

# What the notes in ../shared/reference/ print for MNIST: (study, variant, history column, epoch, value).
BOOK = [("noise_channels", "noise_channels", "val_accuracy", 10, 0.9712),
        ("noise_channels", "zero_channels", "val_accuracy", 10, 0.9803)]
TRAINING_IMAGES = 60000
VALIDATION_SHARE = 0.2


def book_split(x: np.ndarray, y: np.ndarray, limit=None) -> tuple:
    """(train, validation) of the training images as the book feeds them: flattened, scaled to [0, 1], the
    last VALIDATION_SHARE held out. `limit` keeps that many of the training images (quick runs)."""
    x = x[:TRAINING_IMAGES].reshape(len(x[:TRAINING_IMAGES]), -1).astype(np.float32) / 255
    y = y[:TRAINING_IMAGES]
    if limit:
        x, y = x[:limit], y[:limit]
    cut = len(y) - int(round(len(y) * VALIDATION_SHARE))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def summarize(verdicts: list) -> dict:
    """Seed verdicts -> {measure: (mean, sd) or 'k of n'}, plus held_count."""
    summary = {}
    for key, value in verdicts[0].items():
        if key in ("claim", "held") or isinstance(value, str):
            continue
        values = [verdict[key] for verdict in verdicts]
        if isinstance(value, (bool, np.bool_)):
            summary[key] = f"{sum(map(bool, values))} of {len(values)}"
        else:
            summary[key] = (statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0)
    held = [verdict["held"] for verdict in verdicts]
    return {"measured": summary, "held": sum(h is True for h in held), "applicable": all(h is not None for h in held)}


def shown(value) -> str:
    if isinstance(value, tuple):
        mean, sd = value
        return f"{mean:.4g} ± {sd:.2g}" if abs(mean) < 10 else f"{mean:.1f} ± {sd:.1f}"
    return str(value)


def verdict_text(held: int, seeds: int, applicable: bool) -> str:
    if not applicable:
        return "not applicable"
    if held == seeds:
        return f"held ({held} of {seeds} seeds)"
    return f"**did not hold** ({held} of {seeds} seeds)" if held == 0 else f"**mixed** ({held} of {seeds} seeds)"


def book_rows(study: str, histories_per_seed: list) -> list:
    """Markdown cells for the book's printed numbers of this study, beside the same numbers measured."""
    rows = []
    for name, variant, column, epoch, printed in BOOK:
        if name == study:
            at = min(epoch, *(len(h[variant]) for h in histories_per_seed))  # a shorter quick run: its last epoch
            values = [float(h[variant][column].iloc[at - 1]) for h in histories_per_seed]
            spread = (statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0)
            rows.append(f"{variant} {column}: book {printed:.4f} at epoch {epoch}, measured {shown(spread)} "
                        f"(range {min(values):.4f}-{max(values):.4f}) at epoch {at}")
    return rows


def report(results: dict, settings, seeds: list, examples: tuple, seconds: float, data_dir: str) -> str:
    lines = ["# Chapter 5 on the real MNIST", "",
             f"The book's set-up: {examples[0]:,} training and {examples[1]:,} validation images (the last "
             f"{VALIDATION_SHARE:.0%} of MNIST's training file, as Keras' validation_split holds them out), scaled to "
             f"[0, 1]; Dense({', '.join(map(str, settings.units))}), {settings.optimizer} at {settings.learning_rate}, "
             f"batch {settings.batch_size}, {settings.epochs} epochs (params.yaml: studies.mnist). Every variant "
             f"trained with seeds {', '.join(map(str, seeds))}; numbers are mean ± standard deviation over the seeds, "
             "and a claim holds when it held with every seed.", "",
             "| study | claim | the book prints | measured | verdict |", "|---|---|---|---|---|"]
    for name, result in results.items():
        measured = "; ".join(f"{key} {shown(value)}" for key, value in result["summary"]["measured"].items())
        printed = "<br>".join(result["book"]) or "no number for MNIST in the notes"
        lines.append(f"| {name} | {result['claim']} | {printed} | {measured} | "
                     f"{verdict_text(result['summary']['held'], len(seeds), result['summary']['applicable'])} |")
    lines += ["", "The real IMDB is not available on these machines (no network, no copy in the shared data), so "
              "the book's IMDB experiments (capacity, L2, dropout on 10,000 multi-hot words) are not reported here: "
              "no synthetic result stands in for them. The test suite runs every study on an IMDB-shaped file "
              "(tests/test_imdb.py: every stage, the studies included).", "",
              f"Data: the canonical IDX files in `{data_dir}`, checked against their published sha256. "
              f"Wall time: {seconds / 60:.0f} min on this machine. Regenerate with "
              f"`python bench/book.py --data-dir {data_dir} --seeds {len(seeds)}`.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("UWF_DATA_DIR", str(ROOT.parent / "shared/data/mnist")),
                        help="the folder holding the MNIST files (IDX or mnist.npz)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--studies", nargs="+", metavar="NAME", help="run only these (default: all eight)")
    parser.add_argument("--limit", type=int, help="use only this many training images (a quick look, not the book)")
    parser.add_argument("--epochs", type=int, help="train this many epochs instead of params.yaml's")
    parser.add_argument("--output", type=Path, default=ROOT / "reports/book/mnist.md")
    args = parser.parse_args()
    params = load_params(ROOT / "params.yaml")
    settings = params.studies["mnist"]
    if args.epochs:
        settings = settings.model_copy(update={"epochs": args.epochs})
    studies = define_studies(settings)
    unknown = sorted(set(args.studies or []) - set(studies))
    if unknown:
        sys.exit(f"unknown studies {unknown}: choose from {', '.join(studies)}")
    if args.seeds < 1:
        sys.exit("--seeds must be at least 1")

    start = time.perf_counter()
    collect = params.collect.model_copy(update={"data_dir": args.data_dir})
    try:
        x, y, _ = load_dataset(DATASETS["mnist"], collect)
    except PipelineError as error:
        sys.exit(f"error: {error}")
    train, validation = book_split(x, y, args.limit)
    task = define_task("mnist", "classification", {int(c): int(n) for c, n in zip(*np.unique(train[1], return_counts=True))},
                       params.task.imbalance_ratio)
    seeds = [params.seed + k for k in range(args.seeds)]
    results = {}
    for name in args.studies or studies:
        verdicts, histories = [], []
        for seed in seeds:
            started = time.perf_counter()
            history, verdict = run_study(studies[name], task, train, validation, settings, seed)
            verdicts.append(verdict)
            histories.append(history)
            print(f"{name}, seed {seed}: {'held' if verdict['held'] else 'did not hold'} "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
        results[name] = {"claim": studies[name].claim, "summary": summarize(verdicts), "book": book_rows(name, histories)}
    seconds = time.perf_counter() - start
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report(results, settings, seeds, (len(train[1]), len(validation[1])), seconds, args.data_dir))
    print(f"{len(results)} studies x {len(seeds)} seeds in {seconds:.0f} s -> {args.output}")


if __name__ == "__main__":
    main()
