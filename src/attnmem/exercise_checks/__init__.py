"""Checkers for the coding exercises of later chapters, one module a topic (translation, memnet, act, ...).

Each module registers its checkers with ``attnmem.exercises.exercise``; ``attnmem.exercises`` imports every module
here when it is imported, so ``check("ex-03-...", fn)`` finds them.
"""
