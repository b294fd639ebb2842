"""ddbpipe: move DynamoDB tables to and from S3."""

__version__ = "0.1.0"
