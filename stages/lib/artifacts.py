"""Reading the artifacts earlier stages wrote, checked, so a stage fails with a clear message."""
import numpy as np

from stages.lib import paths
from stages.lib.io import read_npz, write_npz

SPLITS = ("train", "validation", "test")


def read_raw():
    arrays = read_npz(paths.RAW_DATA, ["x", "y"])
    return arrays["x"], arrays["y"]


def write_features(directory, split: str, x: np.ndarray, y: np.ndarray) -> None:
    write_npz(f"{directory}/{split}.npz", x=x, y=y)


def read_features(split: str):
    arrays = read_npz(paths.features_file(split), ["x", "y"])
    return arrays["x"], arrays["y"]
