"""Command implementations behind tasks.py: each task's logic in its own module."""
