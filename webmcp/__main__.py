from webmcp.cli import main

main()
