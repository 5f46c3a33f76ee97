"""``python -m vmaf_predictor``: the command line of :mod:`vmaf_predictor.runtime.cli`."""

import sys

from vmaf_predictor.runtime.cli import main

sys.exit(main())
