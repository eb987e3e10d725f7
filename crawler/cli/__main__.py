"""``python -m crawler.cli``: the ``newscrawl`` command."""

import sys

from crawler.cli import main

sys.exit(main())
