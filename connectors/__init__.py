"""Connectors to other networks, one module per network. This package never imports ``portal``."""
