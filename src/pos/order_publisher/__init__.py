"""The Order Publisher: relays committed outbox rows to Kafka, at least once, in milliseconds.

``relay`` is the loop (claim → produce → await acks → mark → commit), ``model`` its pure
decisions (retry, park, broker state), ``outbox_store`` and ``kafka_sender`` the adapters,
``wakeup`` the LISTEN/NOTIFY wake-up, ``housekeeping`` retention and backlog sampling,
``app`` the wiring, ``main`` the `pos publisher` entry point, ``admin`` the operator's view
(`pos outbox ...`, `pos status`).
"""
