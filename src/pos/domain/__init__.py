"""Pure Python, no I/O: orders, money, request fingerprints, the event envelope, status rules."""
