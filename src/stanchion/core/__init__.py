"""Pure foundations: exact numbers, ids, clocks, errors, state machines. Imports nothing of ours."""
