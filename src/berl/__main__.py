import sys

from berl.cli import main

sys.exit(main())
