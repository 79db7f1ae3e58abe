"""Conveyor's pytest plugin (installed with conveyor-crm) gives make_app, login_as, api_headers,
users, check_routes and check_migrations; nothing else is needed here."""
