"""CSV import sources, read the way DynamoDB's Import from S3 reads them."""

from ddbpipe.formats.csv.rows import CSV_DELIMITERS, CsvOptions, CsvRowDecoder, iter_records

__all__ = ["CSV_DELIMITERS", "CsvOptions", "CsvRowDecoder", "iter_records"]
