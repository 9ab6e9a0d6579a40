"""Documents on a case (the feature cases/features/documents.py): the upload's checks
(checks.py), the sealed store of their bytes (store.py) and the use cases every entry
point calls (use_cases.py)."""
