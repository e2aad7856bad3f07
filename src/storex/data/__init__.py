"""Reading, generating, cleaning and splitting store data into the canonical tables."""
