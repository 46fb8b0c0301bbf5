"""The vocabulary of the BC66's manuals: error codes and limits (a leaf package).

``module/``, ``net/`` and ``client/`` import it; it imports nothing of theirs.
"""
