"""The bundle's entry point: the same `main` that the `piecemeal` gui-script runs."""

import sys

from app.__main__ import main

sys.exit(main())
