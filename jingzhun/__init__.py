"""jingzhun (精准): the front door (`cli.py`) above the flows (`flows/`), the stages below them, and the
ground they stand on (`core/`). Imports only ever go down.
"""
