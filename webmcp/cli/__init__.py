"""The `webmcp` command. A thin shell over the library, and the only place that exits the process.

Exit codes: 0 success; 1 runtime error; 2 usage error; 3 invalid configuration; 4 configuration
valid but a component could not be built (e.g. a python tool's module does not import).
Every option can also be set as WEBMCP_<OPTION> (WEBMCP_CONFIG, WEBMCP_TRANSPORT, WEBMCP_PORT, ...).
"""

from __future__ import annotations

import click

from webmcp import __version__
from webmcp.cli.bench import bench
from webmcp.cli.catalog import schema, tools
from webmcp.cli.deploy import deploy
from webmcp.cli.index import index
from webmcp.cli.profile import profile
from webmcp.cli.serving import cache, reload, serve, status
from webmcp.cli.validate import validate


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="webmcp")
def main() -> None:
    """webmcp: a declarative MCP server. One YAML file declares the tools; webmcp serves them."""


for command in (validate, serve, tools, index, reload, cache, status, schema, profile, bench, deploy):
    main.add_command(command)
