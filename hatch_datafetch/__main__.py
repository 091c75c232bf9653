"""``python -m hatch_datafetch`` = the ``hatch-datafetch`` command."""

import sys

from .cli import main

sys.exit(main())
