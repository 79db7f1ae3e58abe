"""The seven roles as data: one TOML file each, read with importlib.resources."""
