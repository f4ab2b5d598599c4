"""Frozen-bundle entry point (PyInstaller runs this file as the program)."""

import sys

from latentlab.__main__ import main

sys.exit(main())
