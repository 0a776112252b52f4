"""``python -m greenpylm``: the greenpylm command line (see greenpylm.cli)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
