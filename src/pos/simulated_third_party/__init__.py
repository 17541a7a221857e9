"""The simulated third-party system (kitchen, fiscal printer, ERP) the consumer delivers to.

Slow and unreliable on demand, but strictly idempotent: a repeated ``Idempotency-Key``
returns the first receipt, so its ``/stats`` can prove the pipeline's exactly-once effect.
"""
