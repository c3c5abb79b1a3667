"""Export's parity check: the exported model must reproduce the trained one within float32's
precision at the outputs' scale, and still refuse preprocessing that disagrees with vectorize."""
import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from stages.lib.errors import PipelineError
from stages.lib.export import check_parity, output_scale
from stages.lib.splitting import write_split
from tests.conftest import ROOT


def test_the_allowed_difference_grows_with_the_outputs_scale():
    # A price regression: 0.125 at 755,000 is float32 rounding (a few units in the last place).
    prices = np.array([[120_000.0], [755_000.0]])
    relative = check_parity({"keras": 0.125, "saved_model": 0.0625}, prices, 1e-4)
    assert relative["keras"] == pytest.approx(0.125 / 755_000) and output_scale(prices) == 755_000
    assert check_parity({"keras": 0.000977}, np.array([[7_900.0], [-8_000.0]]), 1e-4)["keras"] == pytest.approx(
        0.000977 / 8_000)
    # Probabilities keep the absolute bound.
    assert output_scale(np.array([[0.2, 0.8]])) == 1.0
    with pytest.raises(PipelineError, match=r"the exported saved_model model differs from the trained model by "
                                            r"0\.0002 on the raw test examples, 0\.0002 of the outputs' scale 1, over "
                                            r"export\.max_output_difference 0\.0001: the preprocessing layers"):
        check_parity({"keras": 0.0, "saved_model": 2e-4}, np.array([[0.2, 0.8]]), 1e-4)
    with pytest.raises(PipelineError, match=r"differs from the trained model by 80 .* 0\.000106 of the outputs' scale"):
        check_parity({"keras": 80.0}, prices, 1e-4)


def regression_project(project, scaler_error: float):
    """Raw 8x8 'images' with a price-like target, their features as vectorize writes them (the test
    features scaled `scaler_error` too far), and a model whose outputs are about 6e5, spread over 1e5."""
    import keras

    from stages.lib import paths
    from stages.lib.artifacts import write_features
    from stages.lib.export import preprocessing_model
    from stages.lib.io import read_json, save_keras_model, write_json
    from stages.lib.kinds.images import ImageFeatures
    from stages.lib.models import build_model
    from stages.lib.task import define_task
    from tests.conftest import holdout_split, write_raw

    rng = np.random.default_rng(0)
    x = rng.integers(0, 17, size=(100, 8, 8)).astype(np.float64)
    y = 600_000 + 1_000 * x.reshape(100, -1)[:, :8].sum(axis=1)
    write_raw(project, x, y, details={"problem": "regression"})
    split = holdout_split(y)
    write_split(split)
    task = define_task("digits", "regression", None, 3.0)
    write_json(paths.TASK, task.to_dict())
    features = ImageFeatures("standard").fit(x[split["development"]])
    write_json(paths.PREPROCESSING, features.statistics())  # as vectorize writes them
    save_keras_model(preprocessing_model(features, read_json(paths.RAW_MANIFEST)), paths.PREPROCESSING_MODEL)
    write_features(paths.features_file("test"), features.transform(x[split["test"]]) / (1 + scaler_error),
                   y[split["test"]])
    keras.utils.set_random_seed(0)
    model = build_model(64, task, [16], "rmsprop", 1e-3, output_bias=float(y.mean()))
    hidden, output = model.layers
    output.kernel.assign(np.asarray(output.kernel) * 20_000)  # outputs spread over about 1e5
    model.optimizer.build(model.trainable_variables)  # saved as regularize saves a trained model
    (project / paths.REGULARIZED_DIR).mkdir(parents=True)
    model.save(project / paths.REGULARIZED_DIR / "model.keras")


def test_a_price_regression_with_outputs_near_700_000_exports(project):
    from stages import export
    from stages.lib import paths

    regression_project(project, scaler_error=0.0)
    export.main()
    metrics = json.loads((project / paths.EXPORT_METRICS).read_text())
    assert metrics["output_scale"] > 90_000
    # The absolute difference is float32 rounding at this scale (0.0625 here), over the old absolute 1e-4.
    assert max(metrics["relative_output_difference"].values()) <= 1e-4
    assert 0 <= max(metrics["relative_output_difference_float32_eps"].values()) < 100
    assert (project / paths.EXPORT_DIR / "model.keras").exists()


def test_the_check_runs_on_a_stated_seeded_sample_of_a_large_test_split(project):
    import yaml

    from stages import export
    from stages.lib import paths
    from stages.lib.export import checked_examples, parity_sample

    regression_project(project, scaler_error=0.0)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["export"]["max_parity_examples"] = 7
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    export.main()
    metrics = json.loads((project / paths.EXPORT_METRICS).read_text())
    test = json.loads((project / paths.SPLIT).read_text())["examples"]["test"]
    assert (metrics["test_examples"], metrics["test_examples_of"]) == (7, test)
    picked = parity_sample(test, 7, 0)
    assert list(picked) == sorted(set(picked)) and len(picked) == 7 and list(parity_sample(test, 7, 0)) == list(picked)
    assert list(parity_sample(5, 7, 0)) == [0, 1, 2, 3, 4] and list(parity_sample(5, None, 0)) == [0, 1, 2, 3, 4]
    assert checked_examples(7, 20) == "a seeded sample of 7 of the 20" and checked_examples(20, 20) == "20"


def test_preprocessing_one_percent_off_still_fails_and_exports_nothing(project):
    from stages import export
    from stages.lib import paths

    regression_project(project, scaler_error=0.01)
    with pytest.raises(PipelineError, match=r"of the outputs' scale .* over export\.max_output_difference 0\.0001: "
                                            r"the preprocessing layers disagree with vectorize; nothing was exported"):
        export.main()
    assert not (project / paths.EXPORT_DIR).exists() and not (project / paths.EXPORT_METRICS).exists()


# One run of regularize + export in miniature: seed, train, save the trained model, export it.
SEED_TRAIN_SAVE_EXPORT = textwrap.dedent("""
    import sys
    from pathlib import Path
    import numpy as np
    from stages.lib.export import inference_model, preprocessing_model, write_export
    from stages.lib.kinds.images import ImageFeatures
    from stages.lib.io import save_keras_model
    from stages.lib.models import build_model, seed_everything
    from tests.conftest import THREE_CLASSES

    folder = Path(sys.argv[1])
    seed_everything(0)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 16, size=(60, 8, 8)), rng.integers(0, 3, 60)
    preprocessor = ImageFeatures("standard").fit(x)
    trained = build_model(64, THREE_CLASSES, [8, 4], "rmsprop", 0.01, dropout=0.2)
    trained.fit(preprocessor.transform(x), y, epochs=2, batch_size=16, verbose=0)
    save_keras_model(trained, folder / "trained.keras")
    manifest = {"kind": "images", "example_shape": [8, 8]}
    model, signature = inference_model(preprocessing_model(preprocessor, manifest), trained,
                                       preprocessor.statistics(), manifest, THREE_CLASSES)
    write_export(folder, model, signature)
""")


def file_hashes(folder) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_processes_that_train_alike_write_byte_identical_models(tmp_path):
    hashes = []
    for run in ("first", "second"):
        (tmp_path / run).mkdir()
        result = subprocess.run([sys.executable, "-c", SEED_TRAIN_SAVE_EXPORT, str(tmp_path / run)], cwd=tmp_path,
                                capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert result.returncode == 0, result.stderr[-3000:]
        hashes.append(file_hashes(tmp_path / run))
    assert {"trained.keras", "model.keras", "signature.json", "saved_model/saved_model.pb", "saved_model/fingerprint.pb",
            "saved_model/variables/variables.index"} <= set(hashes[0])
    differing = sorted(name for name in hashes[0] if hashes[0][name] != hashes[1].get(name))
    assert differing == [] and hashes[0].keys() == hashes[1].keys()
