"""Key-value stores with pylm's names: `greenpylm.persistence.kv.DictDB`."""
