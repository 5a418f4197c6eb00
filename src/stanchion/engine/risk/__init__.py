"""The central pre-trade risk gate: every order of every strategy passes here."""
