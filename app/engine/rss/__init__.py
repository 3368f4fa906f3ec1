"""RSS and Atom feeds whose items are added by download rules (issue 18)."""
