"""Run dynamodump with its fixed thread start-up delay set to 0.

dynamodump 1.11.1 starts each of its 25 backup threads one ``THREAD_START_DELAY``
(1 s) after the other, about 25 s of sleeping per backup that says nothing about its
speed. This runs its ``main()`` in-process with that delay at 0; everything else is
dynamodump's own. Run it with the python of ``bench/.venv-dynamodump`` (standard library
only here): ``bench/.venv-dynamodump/bin/python bench/run_dynamodump.py -m backup ...``.
"""

from __future__ import annotations

import sys

from dynamodump import dynamodump


def main(argv: list[str]) -> int:
    if not hasattr(dynamodump, "THREAD_START_DELAY"):
        raise SystemExit("dynamodump has no THREAD_START_DELAY; check its version (1.11.1)")
    dynamodump.THREAD_START_DELAY = 0
    sys.argv = ["dynamodump", *argv]
    dynamodump.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
