"""Console scripts, one file each (train, evaluate/encode, export, report), and the one place that turns a
user error into a one-line exit (``reporting.py``). The top floor: it may import every wing below it."""
