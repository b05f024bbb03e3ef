"""Command-line interface (``perception-r1``). One module per command group; heavy imports stay inside commands."""
