"""Pure case rules: what a command may do in which state, and the events it yields.

Nothing here does I/O or knows Temporal or asyncpg; the workflow, the CLI and the
tests all use these functions and plain objects.
"""
