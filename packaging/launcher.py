"""The bundle's entry point: the same `main` that the `piecemeal` gui-script runs, or the
daemon's when started as `piecemeal-daemon` (the .deb's /usr/bin link to this executable)."""

import sys
from pathlib import Path

if Path(sys.argv[0]).name.startswith("piecemeal-daemon"):
    from app.daemon import main
else:
    from app.__main__ import main

sys.exit(main())
