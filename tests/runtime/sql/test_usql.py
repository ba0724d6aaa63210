"""The U-SQL subset translator, run for real on DuckDB against CSV files in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_azml.runtime.sql import (
    SqlScriptError,
    UsqlTranslationError,
    is_usql,
    run_on_duckdb,
    substitute,
    translate_usql,
)
from tests.support.samples import V1_ADLA_SAMPLE

V1_SAMPLE = V1_ADLA_SAMPLE


def write(path: Path, text: str) -> Path:
    """Write a test input file and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run_usql(script: str, tmp_path: Path, values: dict[str, str]) -> list[dict]:
    """Substitute placeholders as the step does, then run on DuckDB with two threads."""
    return run_on_duckdb(substitute(script, values, script_name="test.usql"), threads=2)


def test_v1_sample_extracts_one_column_into_the_output_folder(tmp_path: Path) -> None:
    source = write(tmp_path / "in" / "testdata.csv", 'query\nazure ml\n"pipelines, v1"\nairflow\n')
    out = tmp_path / "out"
    out.mkdir()

    summary = run_usql(V1_SAMPLE, tmp_path, {"script_input": str(source), "script_output": str(out)})

    assert (out / "result.csv").read_text() == 'azure ml\n"pipelines, v1"\nairflow\n'
    assert [s["index"] for s in summary] == [1, 2]
    assert summary[1]["rows_affected"] == 3
    assert "U-SQL line 6" in summary[1]["first_line"]  # OUTPUT is on line 6 of the sample


def test_extract_all_columns_then_select_one_with_header(tmp_path: Path) -> None:
    source = write(tmp_path / "employees.csv", "id,name,dept\n1,Ada,eng\n2,Linus,ops\n3,Grace,eng\n")
    out = tmp_path / "out"
    out.mkdir()
    script = """
    @employees = EXTRACT id int, name string, dept string
                 FROM "@@employees@@" USING Extractors.Csv(skipFirstLine: true);
    @names = SELECT name FROM @employees WHERE dept == "eng";
    OUTPUT @names TO "@@out@@/names.csv" USING Outputters.Csv(outputHeader: true);
    """
    run_usql(script, tmp_path, {"employees": str(source), "out": str(out)})
    assert (out / "names.csv").read_text() == "name\nAda\nGrace\n"


def test_declare_operators_group_by_and_ordered_tsv_output(tmp_path: Path) -> None:
    write(
        tmp_path / "data" / "sales.tsv",
        "EU\t2024-01-05 10:00:00\t10.5\ttrue\nUS\t2024-01-06 11:00:00\t\tfalse\n"
        "EU\t2024-02-01 09:30:00\t4.5\ttrue\nAP\t2024-02-02 08:00:00\t7\tfalse\n",
    )
    script = f"""
    DECLARE @folder string = @"{tmp_path}/data/";   // verbatim string
    DECLARE @input string = @folder + "sales.tsv";  -- concatenated at translation time
    DECLARE @min double = 5.0;
    DECLARE @region string = "US";
    @sales =
        EXTRACT Region string, SoldAt DateTime, Amount double?, Online bool
        FROM @input
        USING Extractors.Tsv();
    @kept =
        SELECT Region, Amount, Online
        FROM @sales
        WHERE (Amount >= @min && Online == true) || Region == @region || !(Amount != null);
    @totals =
        SELECT Region, COUNT(*) AS Sales, SUM(Amount) AS Total
        FROM @kept
        GROUP BY Region;
    OUTPUT @totals TO "{tmp_path}/totals.tsv"
        ORDER BY Region DESC
        USING Outputters.Tsv(outputHeader: true);
    """
    run_on_duckdb(script, threads=1)
    assert (tmp_path / "totals.tsv").read_text() == "Region\tSales\tTotal\nUS\t1\t\nEU\t1\t10.5\n"


def test_text_extractor_delimiter_silent_nulls_and_unquoted_output(tmp_path: Path) -> None:
    write(tmp_path / "in.txt", "1|a;b|x\n2|broken\n3|\\N|z\n")
    script = f"""
    @rows = EXTRACT Id long, Label string, Tag string
            FROM "{tmp_path}/in.txt"
            USING Extractors.Text(delimiter: '|', silent: true, nullEscape: "\\\\N");
    @labelled = SELECT Id, Label == null AS NoLabel, "<" + Tag + ">" AS Tag FROM @rows;
    OUTPUT @labelled TO "{tmp_path}/out.txt"
        USING Outputters.Text(delimiter: ';', quoting: false, nullEscape: "NULL");
    """
    run_on_duckdb(script, threads=None)
    # the short row is skipped (silent), \\N reads as null, ';' stays unquoted with quoting: false
    assert (tmp_path / "out.txt").read_text() == "1;false;<x>\n3;true;<z>\n"


def test_reassigned_rowset_and_fetch_and_declare_external(tmp_path: Path) -> None:
    write(tmp_path / "n.csv", "5\n3\n9\n1\n")
    script = f"""
    DECLARE @limit int = 2;               // overrides the EXTERNAL default below, as in ADLA
    DECLARE EXTERNAL @limit int = 100;
    @n = EXTRACT v int FROM "{tmp_path}/n.csv" USING Extractors.Csv();
    @n = SELECT v * 10 AS v FROM @n;
    @top = SELECT v FROM @n ORDER BY v DESC FETCH FIRST 3 ROWS ONLY;
    @top = SELECT v FROM @top WHERE v > 10 * @limit;
    OUTPUT @top TO "{tmp_path}/top.csv" ORDER BY v USING Outputters.Csv();
    """
    run_on_duckdb(script, threads=1)
    assert (tmp_path / "top.csv").read_text() == "30\n50\n90\n"


def test_file_set_wildcard_and_several_files(tmp_path: Path) -> None:
    write(tmp_path / "logs" / "part-1.csv", "a\n")
    write(tmp_path / "logs" / "part-2.csv", "b\n")
    write(tmp_path / "extra.csv", "c\n")
    script = f"""
    @all = EXTRACT s string FROM "{tmp_path}/logs/part-{{*}}.csv", "{tmp_path}/extra.csv"
           USING Extractors.Csv();
    OUTPUT @all TO "{tmp_path}/all.csv" ORDER BY s USING Outputters.Csv();
    """
    run_on_duckdb(script, threads=1)
    assert (tmp_path / "all.csv").read_text() == "a\nb\nc\n"


def test_translation_of_literals_operators_types_and_comments() -> None:
    statements = translate_usql(
        """// a comment; with a semicolon
        @r = EXTRACT [Unit Price] decimal, Qty int?, At DateTime, Id Guid, Raw byte[]
             FROM "abfs://c@acct/in; x.csv" -- the path has '//' and ';' inside a string
             USING Extractors.Csv(quoting: true, encoding: Encoding.UTF8);
        @s = SELECT [Unit Price], "it's" AS Quote, "tab\\there" AS T, 10L AS Big, 1.5m AS Dec
             FROM @r WHERE Qty == null || Qty != 2 && Qty <= 3;
        """
    )
    assert len(statements) == 2
    assert "read_csv('abfs://c@acct/in; x.csv'" in statements[0]
    assert (
        "columns = {'Unit Price': 'DECIMAL(38, 10)', 'Qty': 'INTEGER', 'At': 'TIMESTAMP', "
        "'Id': 'UUID', 'Raw': 'BLOB'}" in statements[0]
    )
    assert statements[1].splitlines()[1:] == [
        'SELECT "Unit Price", \'it\'\'s\' AS "Quote", \'tab\there\' AS T, 10 AS "Big", 1.5 AS "Dec"',
        'FROM "r" WHERE "Qty" IS NULL OR "Qty" != 2 AND "Qty" <= 3',
    ]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ('@x = EXTRACT a string FROM "f" USING Extractors.Csv();', True),
        ('OUTPUT @x\n  TO "f.csv"\n  USING Outputters.Tsv();', True),
        ("SELECT extract(year FROM ts) FROM t;", False),
        ("-- @x = EXTRACT a string FROM 'f'\nSELECT 1;", False),
        ("SELECT '@x = EXTRACT a' AS s;", False),
        ("COPY (SELECT 1) TO 'out.csv';", False),
    ],
)
def test_is_usql(script: str, expected: bool) -> None:
    assert is_usql(script) is expected


def test_comments_only_translate_to_nothing() -> None:
    assert translate_usql("// nothing\n-- to do\n/* here; */\n") == []


PREFIX = '@r = EXTRACT a string, n int FROM "in.csv" USING Extractors.Csv();\n'


@pytest.mark.parametrize(
    ("script", "construct", "line"),
    [
        ("REFERENCE ASSEMBLY MyLib;\n" + PREFIX, "REFERENCE ASSEMBLY", 1),
        (
            PREFIX + "CREATE TABLE T(a string, INDEX i CLUSTERED(a) DISTRIBUTED BY HASH(a));",
            "CREATE TABLE",
            2,
        ),
        (PREFIX + "\n@p = PROCESS @r PRODUCE a string USING new My.Processor();", "@p = PROCESS", 3),
        (PREFIX + "@p = REDUCE @r ON a PRODUCE a string USING new My.Reducer();", "@p = REDUCE", 2),
        (PREFIX + "@p = COMBINE @r WITH @r ON a PRODUCE a string USING new My.C();", "@p = COMBINE", 2),
        (PREFIX + "@p = SELECT a, w FROM @r\n  CROSS APPLY EXPLODE(a) AS T(w);", "CROSS APPLY", 3),
        (PREFIX + "@p = SELECT a.ToUpper() AS u FROM @r;", "a.ToUpper(...)", 2),
        (PREFIX + "@p = SELECT MyLib.Udfs.Clean(a) AS c FROM @r;", "Udfs.Clean(...)", 2),
        (PREFIX + "@p = SELECT Clean(a) AS c FROM @r;", "Clean(...)", 2),
        (PREFIX + "@p = SELECT (int?) n AS c FROM @r;", "(int) cast", 2),
        (PREFIX + '@p = SELECT n > 1 ? "big" : "small" AS c FROM @r;', "?", 2),
        (PREFIX + "@p = SELECT new SqlArray<string>() AS c FROM @r;", "new SqlArray", 2),
        ('@r = EXTRACT a string FROM "f"\n  USING new MyExtractor();', "USING new", 2),
        ('@r = EXTRACT a string FROM "f" USING Extractors.Parquet();', "USING Extractors.Parquet(", 1),
        (
            '@r = EXTRACT a string FROM "f" USING Extractors.Csv(charFormat: "x");',
            "Extractors.Csv(charFormat:)",
            1,
        ),
        ('@r = EXTRACT a SqlMap<string,string> FROM "f" USING Extractors.Csv();', "type SqlMap<...>", 1),
        (
            '\n@r = EXTRACT a string FROM "/d/{date:yyyy}/f.csv" USING Extractors.Csv();',
            "file set {date:yyyy}",
            2,
        ),
        (PREFIX + 'OUTPUT @missing TO "o.csv" USING Outputters.Csv();', "OUTPUT @missing", 2),
        (PREFIX + "@p = SELECT a FROM @nowhere;", "@nowhere", 2),
        (
            '@r = EXTRACT a string FROM "@@input@@" USING Extractors.Csv();\n@p = SELECT @@input@@ FROM @r;',
            "@@input@@",
            2,
        ),
        (PREFIX + "USE DATABASE Sales;", "USE DATABASE", 2),
        ("@r = EXTRACT a string FROM \"f\" USING Extractors.Text('|');", "Extractors.Text argument '|'", 1),
        (
            '@r = EXTRACT a string FROM "f" USING Extractors.Csv(encoding: Encoding.Unicode);',
            "encoding: Encoding.Unicode",
            1,
        ),
    ],
)
def test_unsupported_construct_names_construct_and_line(script: str, construct: str, line: int) -> None:
    with pytest.raises(UsqlTranslationError) as caught:
        translate_usql(script)
    message = str(caught.value)
    assert f"{construct!r}" in message if construct == "?" else construct in message
    assert f"at line {line} " in message
    assert "Supported U-SQL subset" in message
    assert caught.value.line == line
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, SqlScriptError)


def test_unsupported_construct_stops_run_before_anything_runs(tmp_path: Path) -> None:
    write(tmp_path / "in.csv", "x\n")
    script = f"""@r = EXTRACT a string FROM "{tmp_path}/in.csv" USING Extractors.Csv();
    OUTPUT @r TO "{tmp_path}/early.csv" USING Outputters.Csv();
    @p = SELECT a FROM @r CROSS APPLY EXPLODE(a) AS T(w);
    """
    with pytest.raises(UsqlTranslationError, match="'CROSS APPLY' at line 3"):
        run_on_duckdb(script, threads=1)
    assert not (tmp_path / "early.csv").exists()
