"""The operator's view: the health verdict and the Prometheus metrics.

May import: the store and the shared modules; never a channel, a tool or the command line.
"""
