"""Ponto de entrada de ``python -m coursetools.coursework`` (veja ``coursework.cli``)."""

import sys

from coursetools.coursework.cli import main

if __name__ == "__main__":
    sys.exit(main())
