"""U-SQL ``OUTPUT (SELECT ...) TO ...``: a query expression written straight to a file, as v1's ADLA sample does."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_azml.runtime.sql import UsqlTranslationError, run_on_duckdb, substitute, translate_usql

SCRIPT = """
@cities =
    EXTRACT Id int, City string, Population int
    FROM "@@towns@@"
    USING Extractors.Csv();

OUTPUT
(
    SELECT City
    FROM @cities
    WHERE Population > 500
)
TO "@@big_towns@@"
USING Outputters.Text();
"""


def test_output_of_a_query_expression_writes_the_file(tmp_path: Path) -> None:
    towns = tmp_path / "towns.csv"
    towns.write_text("1, Lund, 900\n2, Ystad, 300\n3, Malmo, 1200\n")
    target = tmp_path / "big_towns"
    summary = run_on_duckdb(
        substitute(SCRIPT, {"towns": str(towns), "big_towns": str(target)}, script_name="t.usql"), threads=1
    )
    assert target.read_text() == " Lund\n Malmo\n", "values keep the blank after each comma, as U-SQL did"
    assert summary[1]["rows_affected"] == 2
    assert "OUTPUT (query), U-SQL line 7" in summary[1]["first_line"]


@pytest.mark.parametrize(
    "output",
    [
        'OUTPUT TO "x" USING Outputters.Csv();',
        'OUTPUT (SELECT 1) "x" USING Outputters.Csv();',
        'OUTPUT @a @b TO "x" USING Outputters.Csv();',
    ],
)
def test_other_output_shapes_are_still_refused(output: str) -> None:
    with pytest.raises(UsqlTranslationError, match="must read 'OUTPUT @rowset TO"):
        translate_usql('@a = EXTRACT x int FROM "in.csv" USING Extractors.Csv();\n' + output)
