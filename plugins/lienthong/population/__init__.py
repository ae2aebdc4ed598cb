"""The population dataset: contract, personal IDs, demo generator."""
