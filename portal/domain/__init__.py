"""Portal's rules. Nothing here imports the web layer."""
