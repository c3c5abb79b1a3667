"""check_params: validate the whole params.yaml whenever any key in it changes.

Every stage tracks only the keys it reads, so a misspelled or unknown key would otherwise
make no stage run and go unnoticed by `dvc repro`."""
from stages.lib.errors import run_stage
from stages.lib.params import PARAMS_FILE, load_params


def main() -> None:
    load_params()
    print(f"check_params: {PARAMS_FILE} is valid")


if __name__ == "__main__":
    run_stage(main)
