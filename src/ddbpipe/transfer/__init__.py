"""The engine: export and import jobs, backups, checkpoints."""
