"""Store layer: the SQLite engine, migrations, commands and queries. Never imports Textual."""
