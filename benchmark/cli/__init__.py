"""The ``trace-bench`` command line: thin commands that parse options into groups, call the library and
print.  Nothing in the product imports it."""
