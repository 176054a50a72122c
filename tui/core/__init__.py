"""The pure core of csrebind: project reading, the data model, references, edits, .cs I/O.

Nothing under ``tui.core`` may import textual or rich; ``tests/core/test_import_hygiene.py``
checks this in a subprocess.
"""
