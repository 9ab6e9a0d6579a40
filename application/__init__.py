"""The application layer: one use case per command and query, built once by the
composition root (`application.bootstrap`) and called by every entry point."""
