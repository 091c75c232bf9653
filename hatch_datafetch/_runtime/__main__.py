"""``python -m <package>.<locator>``: the command line (see :mod:`.cli`)."""

import sys

from . import main

sys.exit(main())
