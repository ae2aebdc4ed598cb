"""The shared PostgreSQL warehouse: connection, embedded server, migrations."""
