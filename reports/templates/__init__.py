"""Report templates (jinja2), shipped inside the package as auditor.templates."""
