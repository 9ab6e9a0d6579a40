"""The demonstration caseload: a seeded staff and resource directory, plausible
clients, and scripted lifecycles that `casework demo` walks through the engine."""
