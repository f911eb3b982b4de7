"""The ground every stage stands on: the warehouse, the rules, masking, the run, errors and progress.

It imports nothing of jingzhun above it (no stage, no flow, not the command line).
"""
