"""A registered till: who it is, which store it belongs to, and the scope of its keys."""

from __future__ import annotations

import re
from dataclasses import dataclass

# The same shape the order body accepts for storeId/deviceId: no '/', so the scope
# "<store>/<device>" is unambiguous.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
# The idempotency scope column is varchar(128): store + '/' + device must fit.
MAX_SCOPE_LENGTH = 128


class InvalidDeviceError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Device:
    """An authenticated device: the principal of every order route."""

    key_id: str
    store_id: str
    device_id: str

    @property
    def idempotency_scope(self) -> str:
        """Keys are scoped by device, not by API key: a re-issued key keeps its replays."""
        return f"{self.store_id}/{self.device_id}"


def check_ids(store_id: str, device_id: str) -> None:
    """Refuse ids an order body could never carry, before a key is issued for them."""
    for name, value in (("store", store_id), ("device", device_id)):
        if not _SAFE_ID.fullmatch(value):
            raise InvalidDeviceError(
                f"{name} id {value!r} must be 1-64 of [A-Za-z0-9._:-], starting alphanumeric"
            )
    if len(store_id) + 1 + len(device_id) > MAX_SCOPE_LENGTH:
        raise InvalidDeviceError(
            f"store and device ids together must be at most {MAX_SCOPE_LENGTH - 1} characters"
        )
