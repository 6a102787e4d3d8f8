import sys

from dragonscope.cli import main

sys.exit(main())
