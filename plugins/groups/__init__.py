"""Groups: segments of customers and leads, CSV export and webhook push for mailing services."""
