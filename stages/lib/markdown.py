"""Markdown tables for the reports (optimization, studies, the pull-request report), through tabulate."""
from tabulate import DataRow, TableFormat, tabulate

# GitHub's pipe table as the reports have always been written: cells not padded to the column's width and a
# plain |---| under the header, so that a changed figure changes its own line of a report's diff, not the table.
_PIPE = TableFormat(lineabove=None, linebelowheader=lambda widths, aligns: "|" + "---|" * len(widths),
                    linebetweenrows=None, linebelow=None, headerrow=DataRow("|", "|", "|"),
                    datarow=DataRow("|", "|", "|"), padding=1, with_header_hide=None)


def cell(value) -> str:
    """A value as one table cell: a | escaped, a line break as a space."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(header: list, rows: list) -> str:
    """A Markdown table of `rows` (each a list of values, shown with str()) under `header`; no final newline."""
    return tabulate([[cell(v) for v in row] for row in rows], [cell(h) for h in header], tablefmt=_PIPE,
                    stralign=None, numalign=None, disable_numparse=True, preserve_whitespace=True)
