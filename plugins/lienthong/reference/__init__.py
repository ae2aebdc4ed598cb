"""Reference data: Vietnam's administrative units before and after the 2025 reform."""
