import sys

from buildiso.cli import main

sys.exit(main(sys.argv[1:]))
