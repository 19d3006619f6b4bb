"""Entry point of the single-file binary."""

from webmcp.cli import main

if __name__ == "__main__":
    main()
