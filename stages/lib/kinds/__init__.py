"""The data kinds, one module each behind one interface (stages/lib/kinds/base.py). The rest of the code
asks this registry for a kind instead of switching on its name; a new kind is one module and one line here.
"""
from pathlib import Path

from stages.lib import paths
from stages.lib.errors import PipelineError
from stages.lib.io import read_json
from stages.lib.kinds import images, sequences, table, text

KINDS = {kind.name: kind for kind in (images.KIND, sequences.KIND, table.KIND, text.KIND)}


def kind_named(name: str):
    """The kind called `name` (a manifest's "kind")."""
    if name not in KINDS:
        raise PipelineError(f"data of kind {name!r} is not supported (known: {sorted(KINDS)}): "
                            "rebuild the raw data with `dvc repro collect`")
    return KINDS[name]


def kind_of(raw: dict):
    """The kind of the raw data that collect's manifest `raw` describes."""
    return kind_named(raw["kind"])


def read_raw(directory=paths.RAW_DIR):
    """(x, y) as collect wrote them, read by the kind its manifest names: an array, Sequences, a table frame
    or an array of texts."""
    return kind_of(read_json(Path(directory) / Path(paths.RAW_MANIFEST).name)).read_raw(directory)


def read_examples(indices, directory=paths.RAW_DIR):
    """The raw examples numbered `indices`, in that order, as read_raw's x would give them (a table's are read a
    row group at a time, not whole)."""
    return kind_of(read_json(Path(directory) / Path(paths.RAW_MANIFEST).name)).read_examples(directory, indices)


def read_targets(directory=paths.RAW_DIR):
    """y as collect wrote it, without reading the examples where the kind keeps them apart (tables, texts)."""
    return kind_of(read_json(Path(directory) / Path(paths.RAW_MANIFEST).name)).read_targets(directory)


def example_times(directory=paths.RAW_DIR):
    """The time of every raw example when the data has a time column (a table's collect.table.time_column), else
    None."""
    raw = read_json(Path(directory) / Path(paths.RAW_MANIFEST).name)
    if not raw.get("time_column"):
        return None
    return kind_of(raw).read_column(directory, raw["time_column"])


def kind_of_input(spec: dict):
    """The kind whose exported model takes the input signature.json describes as `spec`."""
    for kind in KINDS.values():
        if kind.input == spec["name"]:
            return kind
    raise PipelineError(f"no data kind takes the input {spec['name']!r}: re-export the model with `dvc repro export`")
