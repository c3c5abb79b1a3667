"""The one Markdown table helper of the reports."""
from stages.lib.markdown import table


def test_a_table_is_githubs_pipe_table_with_cells_as_given():
    assert table(["metric", "old", "new"], [["accuracy", "0.9", "0.95"], ["", " spaced ", "**worse**"]]) == (
        "| metric | old | new |\n|---|---|---|\n| accuracy | 0.9 | 0.95 |\n|  |  spaced  | **worse** |")


def test_a_pipe_or_a_line_break_in_a_cell_cannot_break_the_table():
    assert table(["a|b"], [["one\ntwo | three"]]).split("\n") == ["| a\\|b |", "|---|", "| one two \\| three |"]


def test_a_table_without_rows_is_its_header():
    assert table(["file", "param"], []) == "| file | param |\n|---|---|"
