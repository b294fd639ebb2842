"""The Data Pipeline service: API, authentication, authorisation and console."""
