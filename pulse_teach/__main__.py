"""``python -m pulse_teach``: the same command line as the ``pulse-teach`` script (see ``cli``)."""
import sys

from .cli import main

sys.exit(main())
