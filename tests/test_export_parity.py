"""Export's parity check: the exported model must reproduce the trained one within float32's
precision at the outputs' scale, and still refuse preprocessing that disagrees with vectorize."""
import json

import numpy as np
import pytest

from stages.lib.errors import PipelineError
from stages.lib.export import check_parity, output_scale


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
    from stages.lib.features import ImageFeatures
    from stages.lib.io import write_json
    from stages.lib.models import build_model
    from stages.lib.task import define_task
    from tests.conftest import holdout_split, write_raw

    rng = np.random.default_rng(0)
    x = rng.integers(0, 17, size=(100, 8, 8)).astype(np.float64)
    y = 600_000 + 1_000 * x.reshape(100, -1)[:, :8].sum(axis=1)
    write_raw(project, x, y, details={"problem": "regression"})
    split = holdout_split(y)
    write_json(paths.SPLIT, split)
    task = define_task("digits", "regression", None, 3.0)
    write_json(paths.TASK, task)
    features = ImageFeatures("standard").fit(x[split["development"]])
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


def test_preprocessing_one_percent_off_still_fails_and_exports_nothing(project):
    from stages import export
    from stages.lib import paths

    regression_project(project, scaler_error=0.01)
    with pytest.raises(PipelineError, match=r"of the outputs' scale .* over export\.max_output_difference 0\.0001: "
                                            r"the preprocessing layers disagree with vectorize; nothing was exported"):
        export.main()
    assert not (project / paths.EXPORT_DIR).exists() and not (project / paths.EXPORT_METRICS).exists()
