"""Tools around the services: infra commands, dev supervisor, simulator, auditor, status.

May import everything; nothing imports it.
"""
