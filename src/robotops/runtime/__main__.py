"""``python -m robotops.runtime BUNDLE --inputs in.npz --out out.npz [--int8]``."""

import sys

from robotops.runtime.command import main

sys.exit(main())
