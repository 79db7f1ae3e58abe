"""Documents: contracts, invoices, acts and offers rendered from Word templates, as DOCX and PDF."""
