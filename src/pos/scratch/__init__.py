"""Throw-away stacks, shared by the tests, the benchmarks and the chaos run.

One toolkit, so each job is done one way: a free port (``processes.free_port``), a service
started as a real subprocess exactly as in production and killed or restarted at will
(``processes.ServiceProcess``), a database of its own, migrated and dropped afterwards
(``databases``), and outbox rows and topic read-backs for the relay (``outbox_rows``).
Nothing here is used by the services themselves.
"""
