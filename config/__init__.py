"""Conveyor's configuration files (TOML), read with importlib.resources."""
