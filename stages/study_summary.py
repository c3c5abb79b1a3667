"""study_summary: one Markdown table of every chapter 5 claim, what this run measured, and the verdict."""
from stages.lib import paths
from stages.lib.errors import run_stage
from stages.lib.io import atomic_path, read_json
from stages.lib.params import load_params
from stages.lib.studies import define_studies, summary_markdown


def main() -> None:
    params = load_params()
    names = list(define_studies(params.study_settings))
    verdicts = {name: read_json(paths.study_metrics(name)) for name in names}
    with atomic_path(paths.STUDIES_SUMMARY) as tmp:
        tmp.write_text(summary_markdown(params.task.dataset, verdicts))
    held = sum(v["held"] is True for v in verdicts.values())
    print(f"study_summary: {held} of {len(verdicts)} claims held on {params.task.dataset} -> {paths.STUDIES_SUMMARY}")


if __name__ == "__main__":
    run_stage(main)
