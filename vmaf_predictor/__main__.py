"""``python -m vmaf_predictor``: :mod:`vmaf_predictor.runtime.cli`."""

import sys

from vmaf_predictor.runtime.cli import main

if __name__ == "__main__":
    sys.exit(main())
