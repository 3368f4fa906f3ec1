"""`python -m app` and the `piecemeal` launcher start the GUI."""

import sys

from app.ui.app import main

if __name__ == "__main__":
    sys.exit(main())
