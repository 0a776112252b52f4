"""Web workers with pylm's names: `greenpylm.remote.server`."""
