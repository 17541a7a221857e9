"""Kafka: producer and consumer factories with the project's delivery settings, headers."""
