"""The sync server: one central, append-only event log for every desk (FastAPI + SQLAlchemy).

``fengqiao server run`` serves it; ``server.store`` holds the protocol logic, ``server.app`` the HTTP layer,
``server.schema`` the tables, ``server.webhooks`` the optional DingTalk-style notifications.
"""
