"""The HTTP interface: thin routers over the services."""
