"""POS order backend: idempotent intake, transactional outbox to Kafka, third-party delivery."""

__version__ = "0.1.0"
