"""The statutes knowledge base: instruments (laws, regulations, judicial
interpretations) and their articles, parsed from the pack's Markdown files
(`parse.py`), kept in the database (`models.py`, `store.py`); the shared pack of
national instruments ships in `pack/` and is imported at first start."""
