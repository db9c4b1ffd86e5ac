"""Result files and what a run leaves on disk: atomic writes, the lock, finished chunks, provenance.

Shared by both science packages; neither owns it.
"""
