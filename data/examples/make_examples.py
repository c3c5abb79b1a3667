"""Write the example datasets the README uses: `python data/examples/make_examples.py [FOLDER]`.

- breast_cancer.csv: scikit-learn's bundled Wisconsin breast cancer table (569 rows, binary
  target "diagnosis"), with 5% of the values of two columns blanked at random so that the
  pipeline's imputation has work to do.
- diabetes.csv: scikit-learn's bundled diabetes table in original units (442 rows, regression
  target "progression"), "sex" coded 1/2 (categorical: list it in collect.table.categorical),
  5% of "bmi" and "bp" blanked.
- reviews.csv: 800 short synthetic movie reviews (text, label pos/neg) made from phrase lists,
  a small stand-in for aclImdb that needs no download.

The files are committed; tests/test_tables.py checks that this script reproduces them byte for byte.
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes

HERE = Path(__file__).resolve().parent
SEED = 0


def blank(frame: pd.DataFrame, columns: list, share: float, rng: np.random.Generator) -> pd.DataFrame:
    frame = frame.copy()
    for column in columns:
        frame.loc[rng.random(len(frame)) < share, column] = np.nan
    return frame


def breast_cancer(rng) -> pd.DataFrame:
    bunch = load_breast_cancer(as_frame=True)
    frame = blank(bunch.data, ["mean texture", "worst smoothness"], 0.05, rng)
    return frame.assign(diagnosis=np.asarray(bunch.target_names)[bunch.target])


def diabetes(rng) -> pd.DataFrame:
    bunch = load_diabetes(as_frame=True, scaled=False)
    frame = blank(bunch.data, ["bmi", "bp"], 0.05, rng)
    return frame.assign(sex=frame["sex"].astype(int), progression=bunch.target)


OPENINGS = ["I watched this {noun} last night.", "We saw the {noun} on opening weekend.",
            "My friends recommended this {noun}.", "I had heard a lot about this {noun}.",
            "The {noun} runs just under two hours.", "This is the director's third {noun}."]
NOUNS = ["film", "movie", "picture", "feature", "story"]
ASPECTS = ["acting", "script", "soundtrack", "camera work", "pacing", "ending", "dialogue", "cast"]
POSITIVE = ["wonderful", "brilliant", "moving", "superb", "delightful", "gripping", "beautiful", "excellent"]
NEGATIVE = ["dull", "clumsy", "boring", "awful", "tedious", "forgettable", "messy", "weak"]
VERDICTS = {"pos": ["I would happily watch it again.", "Highly recommended.", "One of the best this year.",
                    "It stayed with me for days."],
            "neg": ["I would not watch it again.", "Skip this one.", "One of the worst this year.",
                    "I wanted my money back."]}


def review(label: str, rng) -> str:
    tone = POSITIVE if label == "pos" else NEGATIVE
    other = NEGATIVE if label == "pos" else POSITIVE
    sentences = [rng.choice(OPENINGS).format(noun=rng.choice(NOUNS))]
    for _ in range(rng.integers(2, 5)):
        # One aspect in four goes against the review's overall tone, as in real reviews.
        words = other if rng.random() < 0.25 else tone
        sentences.append(f"The {rng.choice(ASPECTS)} was {rng.choice(words)}.")
    if rng.random() < 0.8:
        sentences.append(rng.choice(VERDICTS[label]))
    return " ".join(sentences)


def reviews(rng, n: int = 800) -> pd.DataFrame:
    labels = rng.permutation(np.repeat(["pos", "neg"], n // 2))
    return pd.DataFrame({"text": [review(label, rng) for label in labels], "label": labels})


def main(folder: Path = HERE) -> None:
    rng = np.random.default_rng(SEED)
    for name, make in (("breast_cancer", breast_cancer), ("diabetes", diabetes), ("reviews", reviews)):
        frame = make(rng)
        frame.to_csv(folder / f"{name}.csv", index=False, float_format="%.6g", lineterminator="\n")
        print(f"{folder / name}.csv: {len(frame)} rows, {frame.shape[1]} columns")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
