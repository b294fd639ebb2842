"""``python -m ddbpipe``."""

from ddbpipe.cli import main

main()
