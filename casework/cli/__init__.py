"""The `casework` command line, one module per area; starter.py assembles them."""
