"""`python -m app` and the `piecemeal` launcher start the GUI."""

import sys
from collections.abc import Sequence

from app.ui import app as gui


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    # Installers check themselves with `piecemeal --smoke-test [FILE]` (packaging/README.md).
    if argv[1:2] == ["--smoke-test"]:
        from app.ui.smoke import run

        return run(argv)
    return gui.main(argv)


if __name__ == "__main__":
    sys.exit(main())
