"""Command line interface."""


def main() -> None:
    """Entry point of the ``ddbpipe`` command."""
