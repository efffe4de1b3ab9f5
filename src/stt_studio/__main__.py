"""``python -m stt_studio …``: the same command line as the ``stt-studio`` script."""

import sys

from stt_studio.entrypoints.cli import main

if __name__ == "__main__":
    sys.exit(main())
