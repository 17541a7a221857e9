"""The invariants between the orders and the third party's receipts and counters. Pure.

The third party holds a receipt for an order id exactly when the pipeline delivered it;
the receipts come from its store (`collect.receipt_keys`), the repeated calls from its
persisted counters (`GET /stats`).
"""

from __future__ import annotations

from pos.ops.audit.checks import FAILED, SUCCESS
from pos.ops.audit.facts import Facts
from pos.ops.audit.finding import Breach, Finding, counted, not_measured

NO_RECEIPTS = "the third party's receipts could not be listed"


def failed_orders_with_receipt(facts: Facts) -> Finding:
    """FAILED while the third party has it: the order was delivered but reported lost."""
    delivered = facts.third_party.delivered
    if delivered is None:
        return not_measured(NO_RECEIPTS)
    held = (o.id for o in facts.orders if o.status == FAILED and o.id in delivered)
    return counted("failedOrdersWithReceipt", "{n} FAILED orders hold a third-party receipt", held)


def success_orders_without_receipt(facts: Facts) -> Finding:
    delivered = facts.third_party.delivered
    if delivered is None:
        return not_measured(NO_RECEIPTS)
    missing = (o.id for o in facts.orders if o.status == SUCCESS and o.id not in delivered)
    return counted(
        "successOrdersWithoutReceipt", "{n} SUCCESS orders have no third-party receipt", missing
    )


def receipts_without_order(facts: Facts) -> Finding:
    """Nothing reached the third party that is not an order in the database."""
    delivered = facts.third_party.delivered
    if delivered is None:
        return not_measured(NO_RECEIPTS)
    known = {o.id for o in facts.orders}
    return counted(
        "receiptsWithoutOrder", "{n} receipts are for orders that do not exist", delivered - known
    )


def third_party_repeats(facts: Facts) -> Finding:
    """Calls that repeated a key the third party held, within what the faults explain."""
    tp = facts.third_party
    bound = facts.repeat_bound
    allowed = bound.allowed(tp.timeouts)
    note = bound.explain(tp.timeouts)
    if tp.duplicates <= allowed:
        return Finding(tp.duplicates, note=note)
    problem = f"{tp.duplicates:,} calls repeated a key the third party held ({note})"
    return Finding(tp.duplicates, (Breach("thirdPartyRepeats", problem, ()),), note=note)
