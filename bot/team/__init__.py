"""The programme team's tools: the triage log as protected tables, reports, review and demo data.

May import: the conversation core, the store and the shared modules; never a channel, an
editors' tool or the command line.
"""
