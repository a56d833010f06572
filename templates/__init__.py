"""The jinja2 templates of the HTML report, installed with the package as dedupe.templates."""
