"""One reader per source layout; each returns a canonical StoreData."""
