"""Every kind module, imported explicitly so that registration happens and bundlers see them all."""

from webmcp.kinds.tools import command, http, python, static  # noqa: F401
