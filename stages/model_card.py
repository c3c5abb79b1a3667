"""model_card: one self-contained HTML page that explains the run to people (reports/model_card.html).

It reads only what the stages before it wrote (task, data manifest, split, validation, the chapter 5
metrics and histories, the test predictions, optimization, export, environment) and opens offline.
"""
from stages.lib import paths
from stages.lib.errors import run_stage
from stages.lib.io import atomic_path
from stages.lib.model_card import gather, render
from stages.lib.params import load_params


def main() -> None:
    load_params()  # a broken params.yaml is refused first, by whichever stage runs
    context = gather()
    page = render(context)
    with atomic_path(paths.MODEL_CARD) as tmp:
        tmp.write_text(page, encoding="utf-8")
    print(f"model_card: test {context['test']['headline']['metric']} {context['test']['headline']['text']} "
          f"-> {paths.MODEL_CARD}")


if __name__ == "__main__":
    run_stage(main)
