"""Request and response bodies of the HTTP API (the OpenAPI contract), one module per
router: queue.py (/api/contacts, /api/lawyers), cases.py (the ledger), accounts.py
(/api/session, /api/users), terminals.py (/api/terminals); fields.py holds the rules
several share."""
