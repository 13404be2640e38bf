"""The pack lives in policies/ (its own directory, as the Pulumi CLI expects); make it importable for the tests."""

import sys

from maestro.paths import ROOT

PACK_DIR = ROOT / "policies"
if str(PACK_DIR) not in sys.path:
    sys.path.insert(0, str(PACK_DIR))
