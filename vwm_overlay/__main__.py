import sys

from vwm_overlay.cli import main

sys.exit(main())
