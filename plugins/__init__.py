"""Built-in plugins: each a package using only the public hooks (``conveyor.hookimpl``)."""
