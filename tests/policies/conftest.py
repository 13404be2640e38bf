"""The pack lives in policies/ (its own directory, as the Pulumi CLI expects); make it importable for the tests."""

import sys
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parents[2] / "policies"
if str(PACK_DIR) not in sys.path:
    sys.path.insert(0, str(PACK_DIR))
