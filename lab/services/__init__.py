"""Stand-in services of the lab, each runnable as ``python -m lab.services.<name>``."""
