"""`python -m dedupe_releases` runs the command line."""

from dedupe_releases.cli import main

if __name__ == "__main__":
    main()
