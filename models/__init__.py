"""Domain layer: reference data, routing, the order state machine and rules.

Nothing in this package imports Textual or touches a database; a test checks it.
"""
