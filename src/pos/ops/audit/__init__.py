"""The auditor behind `pos verify`: facts collected from every part, invariants checked purely."""
