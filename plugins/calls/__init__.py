"""Calls: the telemarketer's queue, call results and products of interest."""
