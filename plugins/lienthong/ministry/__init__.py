"""The Ministry of Public Security population API: client hook and demo server."""
