"""The `data` plugin's logic: CSV and JSON summaries over files under a
root directory (``/data`` in the component). Plain Python, no bindings."""
