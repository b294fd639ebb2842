"""Pipelines: AWS Data Pipeline definitions for DynamoDB export and import, and their model."""
