"""Scripts several test modules share."""

__all__ = ["V1_ADLA_SAMPLE"]

#: The script of the Azure ML v1 AdlaStep sample (aka.ms/pl-adla): one column of a CSV with a header.
V1_ADLA_SAMPLE = """\
@resourcereader =
    EXTRACT query string
    FROM "@@script_input@@"
    USING Extractors.Csv(skipFirstLine: true);

OUTPUT @resourcereader
TO "@@script_output@@/result.csv"
USING Outputters.Csv();
"""
