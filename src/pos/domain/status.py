"""Order statuses and the transitions between them."""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"

    @property
    def is_final(self) -> bool:
        """A final order is acknowledged by the consumer without calling the third party."""
        return self is not OrderStatus.PENDING


# PENDING resolves once; only a redrive (an operator's decision) reopens a FAILED order,
# and only evidence (the third party holds a receipt for it) corrects FAILED to SUCCESS.
# SUCCESS is never left.
_ALLOWED = {
    (OrderStatus.PENDING, OrderStatus.SUCCESS),
    (OrderStatus.PENDING, OrderStatus.FAILED),
    (OrderStatus.FAILED, OrderStatus.PENDING),
    (OrderStatus.FAILED, OrderStatus.SUCCESS),
}


def can_transition(current: OrderStatus, new: OrderStatus) -> bool:
    return (current, new) in _ALLOWED
