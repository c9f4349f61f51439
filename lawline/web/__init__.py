"""HTTP API, websockets and the console pages."""
