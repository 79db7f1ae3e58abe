"""Discussions on records: threads, @mentions, followers, attachments, e-mail."""
