"""Exports are safe: CSV cells cannot run as formulas (OWASP), HTML escapes user text."""
import csv
import io

import pytest

from audit.render import safe_cell, to_csv


@pytest.mark.parametrize("hostile", ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)",
                                     "\tcmd", "\rcmd", "=1"])
def test_formula_cells_are_neutralised(hostile):
    assert safe_cell(hostile) == "'" + hostile


@pytest.mark.parametrize("number", ["-0.5", "-12", "+3e-4", "0.25"])
def test_plain_numbers_are_left_numeric(number):
    assert safe_cell(number) == number


def test_csv_roundtrip_keeps_text_and_neutralises_header():
    text = to_csv([["a,b", 'say "hi"', "=cmd"]], ["=h", "x", "y"])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["'=h", "x", "y"], ["a,b", 'say "hi"', "'=cmd"]]
