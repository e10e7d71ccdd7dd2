import sys

from buildiso import secretenv
from buildiso.cli import main

secretenv.reexec_without_password()
sys.exit(main(sys.argv[1:]))
