"""``python -m loopml``: the same command as ``loopml``."""

from loopml.cli.main import main

if __name__ == "__main__":
    main()
