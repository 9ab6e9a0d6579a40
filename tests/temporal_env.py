"""The Temporal servers the tests use: shipped binaries, never a download."""

from __future__ import annotations

import sys
from pathlib import Path

BIN = Path(sys.executable).parent
TEST_SERVER = BIN / "temporal-test-server"
DEV_SERVER = BIN / "temporal"
