"""Checkers for the coding exercises of later chapters, one module a topic (translation, memnet, act, ...).

Each module registers its checkers with ``attnmem.exercises.exercise``, naming in ``forbidden=(...)`` the
package's own answer to the exercise; ``attnmem.exercises`` imports every module here when it is imported, so
``check("ex-03-...", fn)`` finds them. :mod:`attnmem.exercise_checks.sandbox` runs the reader's function in a
worker process where that answer, and every function of these modules, refuses to run.
"""
