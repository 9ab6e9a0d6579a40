"""The HTTP API: every staff action and read over `/api/v1`, each request from a proven
identity (a session or personal access token), built on the application layer."""
