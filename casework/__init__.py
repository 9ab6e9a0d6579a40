"""The entry points of Casework: the command line, the embedded stack, the codec server
and the provider simulator that the demo and the tests use."""
