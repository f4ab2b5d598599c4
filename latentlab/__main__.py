"""Entry point: ``latentlab [PATH]`` opens the app; ``latentlab SUBCOMMAND ...`` works headless.

Both halves are imported lazily so the CLI never loads Qt and ``--version`` loads nothing heavy.
"""

from __future__ import annotations

import os
import sys

SUBCOMMANDS = ("train", "evaluate", "info", "export-grid", "interpolate", "encode", "export-onnx", "generate",
               "compress", "compare", "score")


def main(argv: list[str] | None = None) -> int:
    if os.environ.get("LATENTLAB_TRAINING_CHILD") == "1" and getattr(sys, "frozen", False):
        # The bundled app started itself as the process that trains (core.train_process).
        from latentlab.core.train_process import child_main

        return child_main()
    args = list(sys.argv[1:] if argv is None else argv)
    if args and (args[0] in SUBCOMMANDS or args[0] in ("-h", "--help", "--version", "help")):
        from latentlab import cli

        if args[0] == "help":  # argparse knows no "help" command; show the overview instead
            args[0] = "--help"
        return cli.main(args)
    try:
        from latentlab import app
    except ImportError as exc:  # Qt or one of its system libraries is missing
        print(f"latentlab: the desktop app cannot start: {exc}. The commands work without it: "
              "latentlab --help", file=sys.stderr)
        return 2
    return app.main(args)


if __name__ == "__main__":
    sys.exit(main())
