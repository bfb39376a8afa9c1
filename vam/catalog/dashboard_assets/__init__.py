"""The dashboard page's HTML, CSS and script, inlined into one file by vam.catalog.dashboard."""
