"""The public API is exactly ``ddbpipe.__all__``."""

from __future__ import annotations

from types import ModuleType

import ddbpipe


def test_public_api_is_exactly_all() -> None:
    # Subpackages become attributes when imported; they are not API.
    public = {
        name
        for name, value in vars(ddbpipe).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert public == set(ddbpipe.__all__) - {"__version__"}
    assert ddbpipe.__version__.count(".") == 2


def test_every_public_name_has_a_docstring() -> None:
    for name in ddbpipe.__all__:
        if name != "__version__":
            assert getattr(ddbpipe, name).__doc__, name
