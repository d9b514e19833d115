"""PostgreSQL read models: rows and tracking position written in one transaction."""
