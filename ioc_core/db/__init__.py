"""Storage: the Piccolo engine of this process and migrations run from code."""
