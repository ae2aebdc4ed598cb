"""The civil_events dataset: births and deaths from the provinces' civil-status registries."""
