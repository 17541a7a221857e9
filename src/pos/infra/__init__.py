"""Native PostgreSQL and Kafka for `pos infra up|down|status`, no Docker needed.

The only code that knows about data dirs, jars and pid files. Everything it starts lives
under ``.local/`` at the project root (git-ignored); what ``DATABASE_URL`` / ``KAFKA_BROKER``
already point at and answers is used as it is and never touched.
"""
