"""How every service runs its event loop: uvloop, one way.

The services spend their time in the loop's own machinery (sockets, callbacks,
cross-thread hand-offs from the Kafka clients), where uvloop is the faster loop; using it
everywhere also means a behaviour seen in one service (timer resolution, transport types,
``call_soon_threadsafe`` costs) holds in all of them. Services run under uvicorn get the
same loop through :data:`UVICORN_LOOP`.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, Final, TypeVar

import uvloop

T = TypeVar("T")

#: uvicorn's ``loop`` option for the HTTP services.
UVICORN_LOOP: Final = "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a new uvloop event loop (as ``asyncio.run`` would)."""
    return uvloop.run(main)
