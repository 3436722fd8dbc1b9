"""The index (SQLite + FAISS) and search over it. Uses ingest's types; knows nothing of api, ui or eval."""
