"""Development tooling, above every entry point: the embedded stack (`stack.py`), the
simulated providers (`provider_simulator.py`), the demonstration (`demo/`), the
simulation library the tests and benches share (`simulation.py`), and the commands that
run them (`commands.py`: `casework up`, `casework demo`).

Nothing in the product imports from here; `starter.py` registers its commands.
"""
